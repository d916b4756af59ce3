# scimhub's container image (ADR 0028): a virtual environment built in one stage, copied alone into a
# clean one, so that no compiler, pip (nor its cache) or source tree ships.
#
#   docker build -t scimhub .
#   docker run -d -p 8080:8080 -v scimhub-data:/data \
#     -e SCIMHUB_TOKEN_SIGNING_KEY_FILE=/run/secrets/signing_key \
#     -e SCIMHUB_TOKEN_SALT_FILE=/run/secrets/salt -v "$PWD/secrets:/run/secrets:ro" scimhub
#
# BASE is any Debian-like image with Python 3.11 or newer and its venv module: the official image
# (python at /usr/local/bin) by default, or a base made from Debian's packages (python3 and
# python3-venv, python at /usr/bin), as tests/container builds it. Both stages use the same BASE, so the
# venv's interpreter link points at the same python3 in both. EXTRAS adds optional dependencies, e.g.
# --build-arg EXTRAS=datahub for the push into DataHub (unpinned, resolved at build time).
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
LABEL scimhub.stage=build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/scimhub
# The locked dependencies first, every file checked against its hash, wheels only (no compiler is
# needed or present): this layer is rebuilt only when requirements.lock changes.
COPY requirements.lock /tmp/requirements.lock
RUN /opt/scimhub/bin/pip install --require-hashes --only-binary=:all: -r /tmp/requirements.lock
COPY pyproject.toml README.md /tmp/scimhub/
COPY src /tmp/scimhub/src
ARG EXTRAS=
RUN /opt/scimhub/bin/pip install --no-deps /tmp/scimhub \
 && if [ -n "${EXTRAS}" ]; then /opt/scimhub/bin/pip install "/tmp/scimhub[${EXTRAS}]"; fi \
 && /opt/scimhub/bin/python -m pip uninstall -q -y setuptools pip \
 && /opt/scimhub/bin/python -m compileall -q /opt/scimhub/lib

FROM ${BASE}
# No shell for the service's user; its home is the volume.
RUN echo 'scimhub:x:10001:10001:scimhub:/data:/usr/sbin/nologin' >> /etc/passwd \
 && echo 'scimhub:x:10001:' >> /etc/group \
 && mkdir -p /data && chown 10001:10001 /data
COPY --from=build /opt/scimhub /opt/scimhub
ENV PATH=/opt/scimhub/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SCIMHUB_ENV=production \
    SCIMHUB_DATABASE_URL=sqlite:////data/scimhub.db \
    SCIMHUB_HOST=0.0.0.0 \
    SCIMHUB_PORT=8080
VOLUME /data
WORKDIR /data
USER 10001:10001
EXPOSE 8080
# python3 is the venv's (first on PATH): no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SCIMHUB_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["scimhub"]
CMD ["serve", "--host", "0.0.0.0"]
