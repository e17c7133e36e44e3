"""Ensemble generation speed: 10 members x 120 months at 20 sampler steps, per mode.

    python bench/bench_ensemble.py [--model-dir models/ensemble] [--repeats 3] [--threads N]

Prints the median wall time of `EnsembleGenerator.generate` (decoding
included) for each sequence mode, and the latent-space speed-up: the same
sampler, step count and denoiser design (time-attention over frame tokens)
applied in pixel space (one token per 48x96 frame instead of per 4x12x24
latent), timed in the same run. The pixel-space denoiser is untrained: only
its cost matters here. Nothing is asserted; numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from climviz.data.toy_ensemble import toy_ensemble
from climviz.diffusion.samplers import make_sampler, sample
from climviz.nn.temporal_denoiser import DenoiserConfig, TemporalDenoiser
from climviz.pipelines.ensemble import EnsembleGenerator


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", default="models/ensemble")
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--months", type=int, default=120)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = EnsembleGenerator.from_checkpoint(args.model_dir, device="cpu")
    nlat, nlon = len(gen.lat), len(gen.lon)
    years = args.months // 12
    cond = toy_ensemble(members=[25], start=1986, end=1986 + years - 1, grid=(nlat, nlon)).isel(member=0)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s), device cpu")
    print(f"task: {args.members} members x {cond.sizes['time']} months x {args.steps} steps (DDIM), decoding included")
    latent = {}
    for mode in gen.modes:
        t = _median_time(lambda: gen.generate(cond, args.members, args.steps, mode, seed=0), args.repeats)
        latent[mode] = t
        print(f"generate[{mode}]: median {t:.2f} s over {args.repeats} runs")

    # the same design in pixel space: one token per full-resolution frame
    lat_cfg = gen.diffusion["transformer"].net.cfg
    pix = TemporalDenoiser(DenoiserConfig(latent_shape=(1, nlat, nlon), window=lat_cfg.window,
                                          d_model=lat_cfg.d_model, n_layers=lat_cfg.n_layers,
                                          n_heads=lat_cfg.n_heads)).eval()
    sched = gen.diffusion["transformer"].schedule
    n, t_len, w = args.members, cond.sizes["time"], lat_cfg.window
    cond_px = torch.zeros(n, w, 1, nlat, nlon)
    month = torch.arange(w).remainder(12)[None].expand(n, -1)
    year = (1986.0 + torch.arange(w) / 12.0)[None].expand(n, -1)
    windows = max(1, int(np.ceil((t_len - w) / (w // 2))) + 1) if t_len > w else 1

    @torch.no_grad()
    def pixel_run():
        for _ in range(windows):  # same window count as the latent transformer's MultiDiffusion pass
            sample(lambda x, tt: pix(x, tt, cond_px, month, year), (n, w, 1, nlat, nlon),
                   make_sampler("ddim", sched, args.steps), generator=torch.Generator().manual_seed(0))

    t_pix = _median_time(pixel_run, args.repeats)
    print(f"pixel-space denoiser, same sampler/steps/windows (no decoding needed): median {t_pix:.2f} s")
    print(f"latent-space speed-up (pixel / latent transformer, same run): {t_pix / latent['transformer']:.1f}x")


if __name__ == "__main__":
    main()
