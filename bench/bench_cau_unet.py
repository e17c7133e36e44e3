"""Parameters and FLOPs of one TAUDiff residual-denoiser evaluation on one frame, per CAU kind.

Usage::

    python bench/bench_cau_unet.py [--grid 64x128] [--time] [--threads 1]

Counts with ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per
multiply-add of convolutions and matrix products; element-wise work is not
counted) for the default residual config (:func:`climviz.nn.cau_unet.residual_config`)
with ``cau`` ``se`` and ``tau`` and with ``prev_residual`` off and on, at batch 1.
Weights are untrained (sizes only). ``--time`` also prints the median wall time
of one evaluation (batch 1). No asserts.
"""

from __future__ import annotations

import argparse
import statistics
import time


def measure(grid, cau: str, prev_residual: bool, timing: bool = False, repeats: int = 5) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from climviz.nn.cau_unet import CAUUNet, residual_config

    net = CAUUNet(residual_config(cau=cau, prev_residual=prev_residual)).eval()
    h, w = grid
    x, t, cond = torch.randn(1, 2, h, w), torch.tensor([500]), torch.randn(1, 4, h, w)
    prev = torch.randn(1, 2, h, w) if prev_residual else None
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            net(x, t, cond, prev)
        out = {
            "params": sum(p.numel() for p in net.parameters()),
            "gflop": counter.get_total_flops() / 1e9,
        }
        if timing:
            times = []
            for _ in range(repeats + 1):
                t0 = time.perf_counter()
                net(x, t, cond, prev)
                times.append(time.perf_counter() - t0)
            out["ms"] = 1e3 * statistics.median(times[1:])
    return out


def main(argv=None) -> int:
    import torch

    from climviz.data.grid import parse_grid
    from climviz.vocabulary import CAU_KINDS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", default="64x128", help="fine grid (default 64x128, the shipped model's)")
    p.add_argument("--time", action="store_true", help="also time one evaluation (batch 1)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    grid = parse_grid(args.grid)
    print(f"residual CAU-UNet (default config), one evaluation on one {grid[0]}x{grid[1]} frame")
    print(
        f"{'cau':5s} {'prev_residual':14s} {'parameters':>11s} {'GFLOP/frame':>12s}"
        + ("  ms/eval" * args.time)
    )
    for cau in CAU_KINDS:
        for prev in (False, True):
            m = measure(grid, cau, prev, args.time)
            line = f"{cau:5s} {('on' if prev else 'off'):14s} {m['params']:11,d} {m['gflop']:12.3f}"
            print(line + (f"  {m['ms']:7.1f}" if args.time else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
