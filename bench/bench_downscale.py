"""Time TAUDiff (mean model + residual diffusion) against the end-to-end baseline, per simulated day.

Usage::

    python bench/bench_downscale.py [--model-dir models/taudiff] [--baseline-dir models/taudiff-baseline]
        [--grid 64x128] [--days 1] [--steps 20] [--baseline-steps 20] [--repeats 3] [--threads 2]
        [--train-cost]

Both pipelines run in this one process on the same coarse input (random
fields of wind-like amplitude on the model's coarse grid), with the same
sampler. Printed: medians over ``--repeats`` of the wall time per simulated
day (``--interval-hours`` between frames, 6 h by default), split into mean
model and diffusion for TAUDiff, and the baseline / TAUDiff ratio. Without
checkpoints the default architectures are built with **untrained weights**
(timing only; the output says so). ``--train-cost`` also times one optimiser
step per stage at the default batch sizes and projects the default training
length. No asserts.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from climviz.requests import DownscaleRequest


def _untrained(grid):
    from climviz.data.grid import gaussian_latitudes, regular_longitudes
    from climviz.diffusion.schedule import CosineSchedule
    from climviz.nn.cau_unet import CAUUNet, baseline_config, residual_config
    from climviz.nn.simvp import SimVP, SimVPConfig
    from climviz.pipelines.downscale import BaselineDownscaler, Downscaler, FrameDiffusion
    from climviz.train.taudiff import grid_dict

    nlat, nlon = grid
    g = grid_dict(
        gaussian_latitudes(nlat // 4),
        regular_longitudes(nlon // 4),
        gaussian_latitudes(nlat),
        regular_longitudes(nlon),
    )
    norm = {"variables": ["u", "v"], "mean": [0.0, 0.0], "std": [10.0, 10.0]}
    simvp = SimVP(SimVPConfig(coarse_shape=(nlat // 4, nlon // 4)))
    res = FrameDiffusion(CAUUNet(residual_config()), CosineSchedule(1000), [1.0, 1.0])
    base = FrameDiffusion(CAUUNet(baseline_config()), CosineSchedule(1000), [10.0, 10.0])
    return Downscaler(simvp, res, norm, g), BaselineDownscaler(base, norm, g)


def _coarse(model, n):
    import numpy as np
    import xarray as xr

    rng = np.random.default_rng(0)
    lat, lon = model.coarse_lat, model.coarse_lon
    data = {
        v: (("time", "lat", "lon"), rng.normal(0, 10, (n, lat.size, lon.size)).astype(np.float32))
        for v in ("u", "v")
    }
    return xr.Dataset(data, coords={"time": np.arange(n), "lat": lat, "lon": lon})


def _train_cost(taudiff, baseline, repeats):
    """Seconds per optimiser step (forward + backward + AdamW) at the default batch sizes."""
    import torch

    from climviz.pipelines.downscale_training import DEFAULT_SETTINGS

    def step_time(model, make_inputs, bs):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        model.train()
        times = []
        for _ in range(repeats + 1):
            args = make_inputs(bs)
            t0 = time.perf_counter()
            loss = model(*args).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t0)
        model.eval()
        return statistics.median(times[1:])

    m = taudiff.mean_model
    t, (h, w) = m.cfg.frames, m.cfg.coarse_shape
    hh, ww = m.cfg.fine_shape
    rows = []
    bs = DEFAULT_SETTINGS["mean"].batch_size
    rows.append(
        (
            "mean (SimVP-TAU)",
            bs,
            step_time(m, lambda b: (torch.randn(b, t, 2, h, w),), bs),
            DEFAULT_SETTINGS["mean"].steps,
        )
    )
    for name, net, stage in (
        ("residual (CAU-UNet)", taudiff.residual.net, "residual"),
        ("baseline (CAU-UNet)", baseline.diffusion.net, "baseline"),
    ):
        bs = DEFAULT_SETTINGS[stage].batch_size
        cc = net.cfg.cond_channels
        rows.append(
            (
                name,
                bs,
                step_time(
                    net,
                    lambda b, cc=cc: (
                        torch.randn(b, 2, hh, ww),
                        torch.randint(0, 1000, (b,)),
                        torch.randn(b, cc, hh, ww),
                    ),
                    bs,
                ),
                DEFAULT_SETTINGS[stage].steps,
            )
        )
    print(f"\ntraining cost per optimiser step ({hh}x{ww} fine grid):")
    for name, bs, s, steps in rows:
        print(f"  {name:22s} batch {bs:3d}: {s:7.3f} s/step -> {steps} steps ~ {s * steps / 3600:.2f} h")


def main(argv=None) -> int:
    import torch

    from climviz.data.grid import parse_grid
    from climviz.pipelines.downscale import BaselineDownscaler, Downscaler

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", default="models/taudiff")
    p.add_argument("--baseline-dir", default=None, help="default <model-dir>-baseline")
    p.add_argument("--grid", default="64x128", help="fine grid for untrained models (default 64x128)")
    p.add_argument("--days", type=float, default=1.0, help="simulated days per run (default 1)")
    p.add_argument("--interval-hours", type=float, default=6.0)
    p.add_argument("--steps", type=int, default=20, help="TAUDiff sampler steps")
    p.add_argument(
        "--baseline-steps", type=int, default=None, help="baseline sampler steps (default --steps)"
    )
    p.add_argument("--sampler", default="ddim")
    p.add_argument("--samples", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--train-cost", action="store_true", help="also time one training step per stage")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    base_steps = args.baseline_steps or args.steps
    model_dir = Path(args.model_dir)
    base_dir = (
        Path(args.baseline_dir) if args.baseline_dir else model_dir.with_name(model_dir.name + "-baseline")
    )
    if (model_dir / "mean").is_dir() and (base_dir / "config.json").is_file():
        taudiff, baseline = (
            Downscaler.from_checkpoint(model_dir),
            BaselineDownscaler.from_checkpoint(base_dir),
        )
        weights = f"trained checkpoints {model_dir} and {base_dir}"
    else:
        taudiff, baseline = _untrained(parse_grid(args.grid))
        taudiff.mean_model.to(taudiff.device)
        weights = "UNTRAINED weights (no checkpoints found): timing only, outputs are meaningless"
    n = max(1, int(round(args.days * 24 / args.interval_hours)))
    coarse = _coarse(taudiff, n)
    dev = taudiff.device
    print(f"weights: {weights}")
    print(
        f"device: {dev}, torch threads {torch.get_num_threads()}, fine grid {taudiff.lat.size}x{taudiff.lon.size}, "
        f"{n} frames = {args.days:g} day(s), {args.samples} sample(s), sampler {args.sampler}, "
        f"TAUDiff {args.steps} steps, baseline {base_steps} steps, {args.repeats} repeats (+1 warm-up)"
    )
    taudiff.downscale(coarse.isel(time=slice(0, 1)), DownscaleRequest(steps=1))  # warm-up
    baseline.downscale(coarse.isel(time=slice(0, 1)), DownscaleRequest(steps=1))
    rows = {"mean": [], "diff": [], "td": [], "base": []}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        out = taudiff.downscale(
            coarse, DownscaleRequest(n_samples=args.samples, steps=args.steps, sampler=args.sampler)
        )
        rows["td"].append(time.perf_counter() - t0)
        rows["mean"].append(out.attrs["mean_model_s"])
        rows["diff"].append(out.attrs["diffusion_s"])
        t0 = time.perf_counter()
        baseline.downscale(
            coarse, DownscaleRequest(n_samples=args.samples, steps=base_steps, sampler=args.sampler)
        )
        rows["base"].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) / args.days for k, v in rows.items()}
    print(
        f"TAUDiff   per simulated day: {med['td']:8.3f} s  (mean model {med['mean']:.3f} s, "
        f"residual diffusion {med['diff']:.3f} s)"
    )
    print(f"baseline  per simulated day: {med['base']:8.3f} s")
    print(
        f"per simulated year: TAUDiff {med['td'] * 365 / 60:.1f} min, baseline {med['base'] * 365 / 60:.1f} min"
    )
    print(f"speed-up baseline / TAUDiff: {med['base'] / med['td']:.2f}x (paper: ~19x on an H100)")
    if args.train_cost:
        _train_cost(taudiff, baseline, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
