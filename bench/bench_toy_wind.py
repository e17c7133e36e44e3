"""Time the toy wind model: ms per solver step and s per simulated day.

    python bench/bench_toy_wind.py [--grid 128x256] [--steps 40] [--threads 1]

Prints numbers only; no assertions. The forced shallow-water step is the
torch-harmonics ``dudtspec`` (4 scalar/vector transforms each way) plus the
forcing and AB3 update, in float32.
"""

from __future__ import annotations

import argparse
import time

import torch

from climviz.data.grid import parse_grid
from climviz.data.toy_wind import ToyWindModel, WindModelConfig, time_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="128x256")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--interval-hours", type=float, default=6.0)
    args = parser.parse_args()

    nlat, nlon = parse_grid(args.grid)
    torch.set_num_threads(args.threads)
    dt, nsub = time_step(nlat, args.interval_hours)
    model = ToyWindModel(nlat, nlon, dt, torch.Generator().manual_seed(0), WindModelConfig())
    state = model.advance(model.initial_state(), 3)  # warm-up
    t0 = time.perf_counter()
    state = model.advance(state, args.steps)
    per_step = (time.perf_counter() - t0) / args.steps
    t0 = time.perf_counter()
    for _ in range(10):
        model.to_grid(state)
    per_frame = (time.perf_counter() - t0) / 10

    steps_per_day = 86400.0 / dt
    frames_per_day = 24.0 / args.interval_hours
    print(f"grid {nlat}x{nlon}  lmax=mmax={model.lmax}  dt={dt:.1f} s  threads={args.threads}")
    print(f"solver step:       {1e3 * per_step:8.1f} ms")
    print(f"output frame:      {1e3 * per_frame:8.1f} ms (u, v, vort to grid)")
    print(
        f"simulated day:     {steps_per_day * per_step + frames_per_day * per_frame:8.1f} s "
        f"({steps_per_day:.0f} steps)"
    )


if __name__ == "__main__":
    main()
