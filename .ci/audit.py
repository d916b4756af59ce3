"""Audit requirements.lock for known vulnerabilities with pip-audit; fail loud when it cannot audit.

pip-audit asks PyPI's per-release JSON (``/pypi/NAME/VERSION/json``) which advisories apply to each
pinned release, and reports a release it could not look up as *skipped*, with exit code 0: an
unreachable service would pass as a clean audit. Here a skipped pin is looked up once more in PyPI's
project JSON (``/pypi/NAME/json``), whose ``vulnerabilities`` are those of the project's latest
release (PyPI's JSON API documentation), so it can stand in for a pin that is that release. A known
vulnerability fails the run. A pin neither could audit is named on a WARNING line; it fails the run
only with ``--strict``: CI cannot make a newer upstream release reachable, and a build that turns red
whenever a dependency publishes one would teach people to ignore it.

    .venv/bin/python .ci/audit.py [--strict] [requirements.lock]

Exit codes: 0 no known vulnerability (every pin audited, or a warning names those that were not);
1 a known vulnerability; 2 with ``--strict``, some pin unaudited.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_JSON = "https://pypi.org/pypi/{name}/json"
REFRESH = (
    "refresh the lock (docs/security.md, 'Dependencies'): pip-compile --generate-hashes --strip-extras"
    " --allow-unsafe --extra=postgres --output-file=requirements.lock pyproject.toml"
)


def pip_audit(lock: Path) -> list[dict[str, object]]:
    """Return pip-audit's findings per pinned dependency (``vulns`` or a ``skip_reason``)."""
    run = subprocess.run(
        [sys.executable, "-m", "pip_audit", "-f", "json", "--progress-spinner", "off", "--disable-pip"]
        + ["--require-hashes", "-r", str(lock)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode not in (0, 1) or not run.stdout.strip():
        sys.exit(f"audit: FAILED: pip-audit could not run (exit {run.returncode}):\n{run.stderr[-2000:]}")
    return json.loads(run.stdout)["dependencies"]


def pinned(lock: Path) -> dict[str, str]:
    """Return the lock's ``name==version`` pins, by lower-case name."""
    pins = {}
    for line in lock.read_text().splitlines():
        if "==" in line and not line.lstrip().startswith(("#", "--")):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.split()[0].rstrip("\\").strip()
    return pins


def latest_release_vulnerabilities(name: str, version: str) -> list[dict[str, object]] | None:
    """Return the advisories of ``name`` ``version`` when it is the latest release, else None."""
    try:
        with urllib.request.urlopen(PROJECT_JSON.format(name=name), timeout=30) as response:
            project = json.load(response)
    except (urllib.error.URLError, TimeoutError, ValueError):
        return None
    if project.get("info", {}).get("version") != version:
        return None
    return list(project.get("vulnerabilities") or [])


def main() -> int:
    """Audit the lock; print one line per problem and a verdict; return the exit code."""
    args = sys.argv[1:]
    strict = "--strict" in args
    paths = [a for a in args if a != "--strict"]
    lock = Path(paths[0] if paths else "requirements.lock")
    versions = pinned(lock)
    vulnerable, unaudited, by_fallback = [], [], 0
    for dependency in pip_audit(lock):
        name = str(dependency["name"]).lower()
        vulns = dependency.get("vulns")
        if "skip_reason" in dependency:
            vulns = latest_release_vulnerabilities(name, versions.get(name, ""))
            if vulns is None:
                unaudited.append(f"{name}=={versions.get(name, '?')}: {dependency['skip_reason']}")
                continue
            by_fallback += 1
        for vuln in vulns or []:
            fixed = vuln.get("fix_versions") or vuln.get("fixed_in") or []
            vulnerable.append(
                f"{name}=={versions.get(name)}: {vuln.get('id')} (fixed in {', '.join(fixed) or '-'})"
            )
    for line in vulnerable:
        print(f"audit: VULNERABLE {line}")
    if vulnerable:
        print(f"audit: FAILED: {len(vulnerable)} known vulnerabilities in {lock}; upgrade and {REFRESH}")
        return 1
    if unaudited:
        for line in unaudited:
            print(f"audit: UNAUDITED {line}")
        verdict = "FAILED" if strict else "WARNING"
        print(
            f"audit: {verdict}: {len(unaudited)} of {len(versions)} pins in {lock} could not be audited:"
            " pip-audit's services (PyPI's per-release JSON, OSV) did not answer for them, and they are"
            " not their project's latest release, which PyPI's project JSON would describe."
            f" Reach one, or {REFRESH}"
        )
        return 2 if strict else 0
    how = f"{len(versions) - by_fallback} by pip-audit, {by_fallback} from PyPI's project JSON"
    print(f"audit: ok: {len(versions)} pins in {lock} audited ({how}), no known vulnerability")
    return 0


if __name__ == "__main__":
    sys.exit(main())
