"""Time the synthetic ensemble: seconds per member (in memory, and written to disk) and peak RSS.

Usage::

    python bench/bench_toy_ensemble.py --members 4 --grid 96x192 [--write /tmp/bench.nc]

Without ``--write`` it times :func:`member_field` only; with it, the full
:func:`write_toy_ensemble` (compression included). The first member pays
one-off set-up (imports, land fraction, Legendre tables), reported separately.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None) -> int:
    from climviz.data.grid import parse_grid
    from climviz.data.toy_ensemble import member_field
    from climviz.data.toy_ensemble_io import write_toy_ensemble

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=4)
    p.add_argument("--grid", default="96x192")
    p.add_argument("--start", type=int, default=1850)
    p.add_argument("--end", type=int, default=2005)
    p.add_argument("--write", default=None, help="write to this .nc/.zarr path instead of timing in memory")
    args = p.parse_args(argv)
    grid = parse_grid(args.grid)

    t0 = time.perf_counter()
    member_field(0, start=args.start, end=args.start, grid=grid)  # warm-up: imports and static fields
    setup = time.perf_counter() - t0

    t0 = time.perf_counter()
    if args.write:
        write_toy_ensemble(args.write, members=args.members, start=args.start, end=args.end, grid=grid)
    else:
        for k in range(args.members):
            member_field(k, start=args.start, end=args.end, grid=grid)
    total = time.perf_counter() - t0
    what = f"written to {args.write}" if args.write else "in memory"
    print(
        f"toy ensemble {args.grid} {args.start}-{args.end}, {args.members} members {what}: "
        f"set-up {setup:.2f} s, total {total:.1f} s, {total / args.members:.2f} s/member, "
        f"peak RSS {peak_rss_mib():.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
