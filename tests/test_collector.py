"""The server's tuning of the garbage collector (ADR 0066), checked in a process of its own."""

from __future__ import annotations

import subprocess
import sys

from scimhub.collector import YOUNG_THRESHOLD

CHECK = """
import gc
from scimhub.collector import tune_for_serving
before = gc.get_threshold()
tune_for_serving()
print(before[1:] == gc.get_threshold()[1:], gc.get_threshold()[0], gc.get_freeze_count() > 0)
"""


def test_the_young_are_collected_less_often_and_start_up_is_frozen() -> None:
    shown = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True).stdout
    assert shown.split() == ["True", str(YOUNG_THRESHOLD), "True"]
