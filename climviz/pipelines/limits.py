"""Refuse a request that cannot fit in memory before any of its arrays is made.

A request for 10**9 members would otherwise start allocating (or creating one
random generator per member) and end in an out-of-memory kill or a
``MemoryError`` traceback. :func:`check_memory` compares an estimate of the
bytes a request needs with the memory the machine has available and raises a
``ValueError`` that says what to ask for instead.
"""

from __future__ import annotations

import psutil

HEADROOM = 0.8  # share of the available memory one request may plan to use


def available_memory() -> int:
    """Bytes of memory available to new allocations now (``psutil``: free + reclaimable cache)."""
    return int(psutil.virtual_memory().available)


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"


def check_memory(n_bytes: int, what: str, hint: str) -> None:
    """Raise ``ValueError`` when ``n_bytes`` exceed :data:`HEADROOM` of the available memory.

    ``what`` names the request (``"10 members x 1872 months"``), ``hint`` what to reduce.
    """
    avail = available_memory()
    if n_bytes > HEADROOM * avail:
        raise ValueError(
            f"{what} would need about {_gib(n_bytes)} of memory, more than this machine has "
            f"available ({_gib(avail)}); {hint}"
        )
