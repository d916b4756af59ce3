#!/usr/bin/env bash
# Build scimhub's image from a Debian base made on this machine, run it on a volume, and prove it serves.
#
#   bash bench/container.sh            (as root; a few minutes, the base is cached after the first run)
#
# No container registry is needed: the base image is made from Debian's packages with debootstrap
# (python3 + python3-venv, minbase) and imported into podman once, then the repository's Dockerfile is
# built on it with --build-arg BASE=…; pip inside the build reaches PyPI over the host's network.
# What it proves: the Dockerfile builds (multi-stage, hash-checked lock), the container starts as a
# non-root user with no compiler, refuses to start without its secrets (SCIMHUB_ENV=production),
# takes them from files, answers /healthz (its HEALTHCHECK too), issues a token with `scimhub token
# create` inside the container, accepts a real SCIM POST /Users with it, and a new container on the
# same volume still has the user and still accepts the token. What it cannot prove: the default
# base (python:3.12-slim, Python 3.12 at /usr/local/bin) is not pulled here; the base made here is
# Debian 12's Python 3.11 at /usr/bin.
#
# Environment: SCIMHUB_CONTAINER_CACHE (default /var/tmp/scimhub-container) keeps the base's rootfs
# tarball and podman's configuration (podman keeps the build stage as an untagged image: the layer
# cache of the locked dependencies); SCIMHUB_CONTAINER_PORT (default 18080) is the port the
# container listens on (host network); SCIMHUB_CONTAINER_KEEP=1 keeps the image afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${SCIMHUB_CONTAINER_CACHE:-/var/tmp/scimhub-container}
PORT=${SCIMHUB_CONTAINER_PORT:-18080}
BASE_IMAGE=localhost/scimhub-base:bookworm
IMAGE=localhost/scimhub:test-$$
NAME=scimhub-test-$$
VOLUME=scimhub-data-$$
URL="http://127.0.0.1:$PORT"
START=$(date +%s.%N)
STEP_START=$START

elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }
step() {
  echo "container: $1 done in $(elapsed "$STEP_START") s"
  STEP_START=$(date +%s.%N)
}
fail() {
  echo "container: FAILED: $*" >&2
  podman logs "$NAME" 2>&1 | tail -n 30 >&2 || true
  exit 1
}

# 1. The tools, from Debian's packages.
missing=()
for tool in podman debootstrap runc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman debootstrap runc
fi
mkdir -p "$CACHE"
# This kind of VM refuses setrlimit and crun's cgroup handling: runc, cgroupfs, no default ulimits.
printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\n' >"$CACHE/containers.conf"
export CONTAINERS_CONF="$CACHE/containers.conf"
# Without systemd podman cannot schedule the HEALTHCHECK's timer and says so on every start and stop;
# the check is run by hand below instead, and those lines are dropped.
podman() {
  { command podman --runtime runc "$@" 2>&1 1>&3 | sed '/unable to get systemd connection/d' >&2; } 3>&1
}
step "tools"

cleanup() {
  podman rm -f "$NAME" >/dev/null 2>&1 || true
  podman volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  rm -rf "$CACHE/secrets-$$"
  [[ "${SCIMHUB_CONTAINER_KEEP:-}" == 1 ]] || podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# 2. The base: Debian 12 with python3 and python3-venv, made once and kept as a tarball and an image.
if ! podman image exists "$BASE_IMAGE"; then
  if [[ ! -s "$CACHE/base.tar" ]]; then
    rm -rf "$CACHE/rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv bookworm "$CACHE/rootfs" >"$CACHE/debootstrap.log"
    tar -C "$CACHE/rootfs" -cf "$CACHE/base.tar.part" . && mv "$CACHE/base.tar.part" "$CACHE/base.tar"
    rm -rf "$CACHE/rootfs"
  fi
  podman import "$CACHE/base.tar" "$BASE_IMAGE" >/dev/null
  step "base image (debootstrap)"
else
  step "base image (cached)"
fi

# 3. The image, from the repository's Dockerfile.
# pip in the build trusts the host's certificate authorities (where a proxy re-signs TLS, only those
# let it reach PyPI): the host's bundle and a pip.conf naming it are mounted for the build only.
printf '[global]\ncert = /etc/ssl/host-ca.crt\n' >"$CACHE/pip.conf"
podman build -q --format docker --network host --build-arg BASE="$BASE_IMAGE" -t "$IMAGE" \
  -v "$CACHE/pip.conf:/etc/pip.conf:ro" -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/host-ca.crt:ro . >/dev/null
step "image build"
SIZE=$(podman image inspect "$IMAGE" --format '{{.Size}}')
BASE_SIZE=$(podman image inspect "$BASE_IMAGE" --format '{{.Size}}')
echo "container: image size $((SIZE / 1048576)) MiB (the base alone: $((BASE_SIZE / 1048576)) MiB)"

# 4. Nothing to build with, and not root.
if podman run --rm --entrypoint /bin/sh "$IMAGE" -c 'command -v gcc cc c++ make x86_64-linux-gnu-gcc pip pip3'; then
  fail "the image has a compiler, make or pip"
fi
USER_ID=$(podman run --rm --entrypoint id "$IMAGE" -u)
[[ "$USER_ID" != 0 ]] || fail "the image runs as root"
echo "container: runs as uid $USER_ID, no gcc, cc, make or pip"

# 5. Production mode refuses to start without its secrets.
if podman run --rm --network host -e SCIMHUB_PORT="$PORT" "$IMAGE" >"$CACHE/refused.log" 2>&1; then
  fail "the image started without SCIMHUB_TOKEN_SIGNING_KEY"
fi
grep -q "SCIMHUB_ENV=production" "$CACHE/refused.log" || fail "no reason given: $(cat "$CACHE/refused.log")"
echo "container: without secrets it refuses: $(grep -m1 error: "$CACHE/refused.log" | cut -c1-100)…"
step "checks of the image"

# 6. Run it with its secrets in files and its database on a volume.
SECRETS="$CACHE/secrets-$$"
mkdir -p "$SECRETS"
python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$SECRETS/signing_key"
python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$SECRETS/salt"
python3 -c 'import secrets; print(secrets.token_urlsafe(18))' >"$SECRETS/admin_password"
chmod 644 "$SECRETS"/*  # the container's user (10001) reads them through the read-only bind mount
podman volume create "$VOLUME" >/dev/null
run() {  # [podman run options...]: the image with its secrets, on the volume
  podman run -d --name "$NAME" --network host -v "$VOLUME:/data" -v "$SECRETS:/run/secrets:ro" \
    -e SCIMHUB_PORT="$PORT" "$@" \
    -e SCIMHUB_TOKEN_SIGNING_KEY_FILE=/run/secrets/signing_key \
    -e SCIMHUB_TOKEN_SALT_FILE=/run/secrets/salt \
    -e SCIMHUB_ADMIN_PASSWORD_FILE=/run/secrets/admin_password \
    "$IMAGE" >/dev/null
}
wait_healthy() {
  for _ in $(seq 1 120); do
    if python3 -c "import urllib.request; urllib.request.urlopen('$URL/healthz', timeout=1)" 2>/dev/null; then
      return 0
    fi
    podman container exists "$NAME" && [[ $(podman inspect "$NAME" --format '{{.State.Running}}') == true ]] \
      || fail "the container stopped"
    sleep 0.5
  done
  fail "/healthz did not answer within 60 s"
}
run
wait_healthy
step "first start until /healthz"
podman healthcheck run "$NAME" || fail "the image's HEALTHCHECK failed"
echo "container: the image's HEALTHCHECK passes"

TOKEN=$(podman exec "$NAME" scimhub token create --name entra | tail -n 1)
[[ "$TOKEN" == ey* ]] || fail "token create printed no token"
scim() {  # METHOD PATH [BODY] -> prints "status body"
  python3 - "$URL/scim/v2$2" "$1" "${3:-}" "$TOKEN" <<'PY'
import sys, urllib.error, urllib.request
url, method, body, token = sys.argv[1:]
request = urllib.request.Request(url, method=method, data=body.encode() or None,
    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
PY
}
USER_NAME="ada.container.$$@example.com"
CREATED=$(scim POST /Users "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"$USER_NAME\",\"active\":true}")
[[ "$CREATED" == 201* ]] || fail "POST /Users answered $CREATED"
echo "container: POST /Users 201 with the token made by \`scimhub token create\` in the container"
step "token and SCIM POST"

# 7. A new container on the same volume: the user and the token survived.
podman rm -f "$NAME" >/dev/null
run
wait_healthy
step "second container on the same volume until /healthz"
FOUND=$(scim GET "/Users?filter=userName%20eq%20%22$USER_NAME%22")
[[ "$FOUND" == 200*'"totalResults":1'* ]] || fail "the user did not survive: $FOUND"
echo "container: the user and the token survived a new container on the volume"
podman exec "$NAME" python3 -c "import sqlite3; print('container: PRAGMA integrity_check:', sqlite3.connect('/data/scimhub.db').execute('PRAGMA integrity_check').fetchone()[0])"
podman exec "$NAME" scimhub doctor >"$CACHE/doctor.log" || fail "scimhub doctor failed: $(cat "$CACHE/doctor.log")"
echo "container: scimhub doctor passes: $(awk '{print $1}' "$CACHE/doctor.log" | sort | uniq -c | xargs)"
podman stop -t 30 "$NAME" >/dev/null
echo "container: stopped cleanly (exit code $(podman inspect "$NAME" --format '{{.State.ExitCode}}'))"
podman rm -f "$NAME" >/dev/null
step "checks on the volume, doctor, stop"

# 8. Two worker processes on PostgreSQL (the compose file's shape), when a PostgreSQL is reachable.
PG_ADMIN=${SCIMHUB_CONTAINER_POSTGRES:-postgresql://postgres@127.0.0.1:5432/postgres}
PG_DB=scimhub_container_$$
if command -v psql >/dev/null && psql -q "$PG_ADMIN" -c "CREATE DATABASE $PG_DB" 2>/dev/null; then
  trap 'cleanup; psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  PG_URL="postgresql+psycopg://${PG_ADMIN#postgresql://}"
  run -e SCIMHUB_WORKERS=2 -e SCIMHUB_DATABASE_URL="${PG_URL%/*}/$PG_DB"
  wait_healthy
  TOKEN=$(podman exec "$NAME" scimhub token create --name entra | tail -n 1)
  CREATED=$(scim POST /Users "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"$USER_NAME\"}")
  [[ "$CREATED" == 201* ]] || fail "POST /Users on PostgreSQL answered $CREATED"
  WORKERS=$(podman exec "$NAME" python3 -c "import os; print(sum(1 for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid() and b'spawn_main' in open(f'/proc/{p}/cmdline', 'rb').read()))")
  podman exec "$NAME" scimhub doctor >"$CACHE/doctor.log" || fail "scimhub doctor failed: $(cat "$CACHE/doctor.log")"
  echo "container: on PostgreSQL with $WORKERS worker processes: POST /Users 201, scimhub doctor passes"
  podman stop -t 30 "$NAME" >/dev/null
  step "PostgreSQL, two workers"
else
  echo "container: no PostgreSQL at $PG_ADMIN (SCIMHUB_CONTAINER_POSTGRES): the two-worker PostgreSQL run is left out"
fi
echo "container: ok in $(elapsed "$START") s"
