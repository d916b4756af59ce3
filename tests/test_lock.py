"""requirements.lock (what the image installs and CI audits) pins every runtime dependency.

A dependency added to pyproject.toml but not to the lock installs in a development venv and
is missing from the image: the server would fail on its first import there.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _pinned() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def _runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [
        Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["postgres"]
    ]


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    """Each dependency of pyproject.toml (and the postgres extra) has a pin that its range admits."""
    pins = _pinned()
    for requirement in _runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is missing from requirements.lock: refresh it (docs/security.md)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement.specifier}"
        )
