"""The container image, built from the Dockerfile and run: opt-in, because it takes minutes.

``bench/container.sh`` does the work (see its header for what it proves and what it cannot): it makes
a Debian base with debootstrap (no registry is needed), builds the image on it, runs it on a volume
with its secrets in files, creates a token inside it, provisions a user over SCIM, and finds the user
again from a new container on the same volume. Run with ``SCIMHUB_TEST_CONTAINER=1`` as root.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "container.sh"

pytestmark = pytest.mark.skipif(
    os.environ.get("SCIMHUB_TEST_CONTAINER") != "1",
    reason="builds and runs the container image with podman, 2-5 minutes (about 1 more the first time, "
    "for the Debian base): set SCIMHUB_TEST_CONTAINER=1 to run it",
)


def test_the_image_builds_serves_scim_and_keeps_its_data_on_the_volume() -> None:
    """Every step of bench/container.sh passes: non-root, no compiler, secrets, SCIM, the volume."""
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert re.search(r"runs as uid [1-9]\d*, no gcc, cc, make or pip", out)
    assert "without secrets it refuses: error: SCIMHUB_ENV=production" in out
    assert "the image's HEALTHCHECK passes" in out
    assert "POST /Users 201" in out
    assert "the user and the token survived a new container on the volume" in out
    assert "PRAGMA integrity_check: ok" in out
    assert "scimhub doctor passes" in out
    assert "stopped cleanly (exit code 0)" in out
