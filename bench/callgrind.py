"""Instructions counted by valgrind's callgrind inside one ``functools.reduce`` call of a child script.

A benchmark that counts instructions re-runs itself under callgrind with collection off, and makes
its measured calls inside one ``functools.reduce``: callgrind counts only there
(``--toggle-collect``), so neither the interpreter's start nor the warm-up is counted. Other work
on a shared machine does not change the count.
"""

from __future__ import annotations

import re
import subprocess
import sys


def instructions_in_reduce(script: str, *args: str) -> int:
    """Run ``script`` with ``args`` in this interpreter under callgrind; return the instructions it
    spent inside ``functools.reduce``.

    :raises RuntimeError: When callgrind counted nothing (the script made no such call).
    """
    command = [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        "--toggle-collect=functools_reduce",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        script,
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    collected = re.search(r"Collected : (\d+)", done.stderr)
    if collected is None:
        raise RuntimeError(f"callgrind counted nothing: {done.stderr[-2000:]}")
    return int(collected.group(1))
