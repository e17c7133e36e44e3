"""Cost-quality curve of TAUDiff and the end-to-end baseline, and the speed-up at matched quality.

Usage::

    python bench/bench_downscale_quality.py --data data/wind64-3y.nc --test-days 200
        [--model-dir models/taudiff] [--baseline-dir models/taudiff-baseline]
        [--steps 1,2,4,8,20] [--baseline-steps 5,10,20,40] [--samplers ddim,dpm++2m] [--frames 32] [--samples 4]
        [--ke-target 0.9] [--crps-target C] [--threads 2] [--figure F.png] [-o F.json]

Every configuration downscales the same ``--frames`` consecutive frames at the
start of the test period (the last ``--test-days`` of ``--data``, which the
models did not train or validate on), ``--samples`` samples each, in this one
process, with each of ``--samplers``. For each it prints the wall seconds per simulated day and per sample
(TAUDiff's mean model included), the fair CRPS of u, the share of degrees
``1 <= l < 0.8 L`` whose KE ratio lies in [0.8, 1.25] and the flicker ratio of u.

The speed-up is the cost of the cheapest baseline configuration over that of the
cheapest TAUDiff configuration that reach the same quality target: a KE share
(``--ke-target``, 0.9 by default, lowered to what both methods reach when one
does not) and a CRPS (``--crps-target``, by default the worst of the two
methods' best CRPS at that share, so both reach it). No asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path


def _cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv=None) -> int:
    import numpy as np
    import torch

    from climviz.pipelines.downscale import BaselineDownscaler, Downscaler
    from climviz.pipelines.downscale_cost import matched_speedup, measure, write_figure
    from climviz.pipelines.wind_data import make_pairs, open_winds, split_periods, step_hours
    from climviz.requests import DownscaleRequest

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="fine wind file the models were trained on")
    p.add_argument(
        "--test-days", type=float, required=True, help="the test period the models were trained with"
    )
    p.add_argument("--model-dir", default="models/taudiff")
    p.add_argument("--baseline-dir", default=None, help="default <model-dir>-baseline")
    p.add_argument("--steps", default="1,2,4,8,20", help="TAUDiff sampler steps to try")
    p.add_argument("--baseline-steps", default="5,10,20,40", help="baseline sampler steps to try")
    p.add_argument("--samplers", default="ddim,dpm++2m", help="samplers to try with each step count")
    p.add_argument("--frames", type=int, default=32, help="consecutive test frames (default 32)")
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--ke-target", type=float, default=None, help="KE share target (default 0.9)")
    p.add_argument("--crps-target", type=float, default=None, help="CRPS target in m/s (default: matched)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--figure", default=None, help="PNG of the two curves")
    p.add_argument("-o", "--output", default=None, help="JSON with every point and the result")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    model_dir = Path(args.model_dir)
    bdir = Path(args.baseline_dir) if args.baseline_dir else model_dir.with_name(model_dir.name + "-baseline")
    models = {
        "TAUDiff": Downscaler.from_checkpoint(model_dir),
        "baseline": BaselineDownscaler.from_checkpoint(bdir),
    }
    fine, coarse = make_pairs(open_winds(args.data).load(), 4)
    test = split_periods(
        fine.sizes["time"], step_hours=step_hours(fine["time"]), test_days=args.test_days
    ).test
    idx = np.arange(fine.sizes["time"])[test][: args.frames]
    fine, coarse = fine.isel(time=idx), coarse.isel(time=idx)
    machine = (
        f"{_cpu_name()} ({os.cpu_count()} CPUs), torch threads {torch.get_num_threads()}, "
        f"device {models['TAUDiff'].device}"
    )
    print(
        f"{machine}; {len(idx)} test frames from {fine['time'].values[0]}, "
        f"{args.samples} samples; data {args.data} (synthetic toy wind)"
    )
    for m in models.values():  # warm-up: first-call allocations are not timed
        m.downscale(coarse.isel(time=slice(0, 2)), DownscaleRequest(steps=1))
    sweeps = {"TAUDiff": _ints(args.steps), "baseline": _ints(args.baseline_steps)}
    points = []
    print(
        "| method | steps | sampler | s per day per sample | CRPS u (m/s) | KE share in [0.8, 1.25] | flicker u |"
    )
    print("|---|---|---|---|---|---|---|")
    for method, steps_list in sweeps.items():
        for steps, sampler in [(s, k) for s in steps_list for k in args.samplers.split(",")]:
            pt = measure(models[method], method, coarse, fine, steps, n_samples=args.samples, sampler=sampler)
            points.append(pt)
            print(
                f"| {method} | {steps} | {sampler} | {pt.seconds_per_day:.3f} | {pt.crps_u:.3f} | "
                f"{pt.ke_share:.0%} | {pt.flicker_u:.2f} |",
                flush=True,
            )
    res = matched_speedup(points, ke_target=args.ke_target, crps_target=args.crps_target)
    t = res["target"]
    print(
        f"\nquality target: KE share >= {t['ke_share']:.0%} and CRPS u <= {t['crps_u']:.3f} m/s"
        + (
            ""
            if res["ke_target_reached"]
            else f" (0.9 not reached by both; best shares {res['best_ke_share']})"
        )
    )
    for method in ("TAUDiff", "baseline"):
        b = res[method]
        print(
            f"cheapest {method}: "
            + (
                f"{b['steps']} steps of {b['sampler']}, {b['seconds_per_day']:.3f} s per day per sample"
                if b
                else "never reaches it"
            )
        )
    s = res["speedup"]
    print(
        f"speed-up at matched quality, baseline / TAUDiff: {s:.1f}x"
        if s
        else "no speed-up: a method misses the target"
    )
    if args.figure:
        write_figure(points, res, args.figure)
        print(f"figure: {args.figure}")
    if args.output:
        Path(args.output).write_text(
            json.dumps(
                {
                    "points": [vars(p) for p in points],
                    "result": res,
                    "machine": machine,
                    "frames": int(len(idx)),
                    "samples": args.samples,
                    "test_start": str(fine["time"].values[0]),
                    "data": args.data,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
