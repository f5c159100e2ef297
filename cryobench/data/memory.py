"""Will a request fit in memory? Asked before allocating, so a huge box fails at once.

Without this check a 1000^3 box asks numpy for terabytes: the process is killed by the
kernel (no message at all) or fails deep inside a computation after minutes of work.
"""

from __future__ import annotations

import os
from pathlib import Path

GIB = 2**30
FLOAT32 = 4  # bytes per voxel of every volume cryobench holds
MEMINFO = Path("/proc/meminfo")


def available_bytes(meminfo: Path = MEMINFO) -> int | None:
    """Memory the system can give a new allocation without swapping; None if unknown.

    Linux's ``MemAvailable`` counts reclaimable caches too (free pages alone would refuse
    requests that fit); elsewhere the free physical pages from ``os.sysconf``.
    """
    try:
        with open(meminfo, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the figure is in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):  # no sysconf, or no such name
        return None


def volumes_bytes(count: int, box: int) -> int:
    """Bytes of ``count`` float32 volumes of ``box``^3 voxels."""
    return count * box**3 * FLOAT32


def shortfall(need: int, available: int | None = None) -> str | None:
    """None when ``need`` bytes fit; else "about X GiB of memory and Y GiB is available".

    ``available`` defaults to :func:`available_bytes`; when that is unknown, the request
    is let through (the check must never stop a run it cannot judge).
    """
    if available is None:
        available = available_bytes()
    if available is None or need <= available:
        return None
    return f"about {gib(need)} of memory and {gib(available)} is available"


def gib(size: int) -> str:
    """``size`` bytes in GiB, readable from kilobytes to terabytes."""
    value = size / GIB
    return f"{value:,.1f} GiB" if value >= 0.1 else f"{value:.2g} GiB"
