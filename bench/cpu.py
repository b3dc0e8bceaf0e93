"""CPU time of a process group (the gateway's supervisor and all its workers), from /proc."""

from __future__ import annotations

import os
from pathlib import Path

from tests.fixtures.services import group_members

_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every live process in group `pgid`.

    Workers live for the whole benchmark, so the difference between two readings is the CPU the
    gateway spent in between.
    """
    total = 0
    for pid in group_members(pgid):
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ..., utime, stime
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS
