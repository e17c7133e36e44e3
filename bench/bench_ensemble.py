"""Ensemble generation speed: 10 members x 120 months at the shipped default sampler and steps.

    python bench/bench_ensemble.py [--model-dir models/ensemble] [--repeats 5] [--threads 2]

Prints, for each sequence mode, the median wall time of
``EnsembleGenerator.generate`` (encoding the conditioning run, sampling and
decoding all included), the floating-point operations it did (counted with
``torch.utils.flop_counter`` on the same request: denoiser and VAE), and the
share of this machine's matmul rate (a 1024^3 float32 matmul timed in the same
run) that this amounts to.

Latent vs pixel space: the same denoiser family (same widths, depth, window
and kernels) built on the 48x96 fields themselves (:func:`pixel_twin`), so
that the cost compares like with like. It is
untrained: only its cost (FLOPs and wall time, same sampler and steps, no
decoding needed) is compared. Nothing is asserted; numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from climviz.data.toy_ensemble import toy_ensemble
from climviz.diffusion.samplers import make_sampler, sample
from climviz.nn.denoisers import denoiser_class
from climviz.nn.spacetime_denoiser import SpaceTimeConfig
from climviz.nn.tunet_denoiser import TUNetConfig
from climviz.pipelines.ensemble import EnsembleGenerator
from climviz.requests import GenerationRequest
from climviz.vocabulary import DEFAULT_SAMPLER, DEFAULT_STEPS


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_rate(repeats: int = 5) -> float:
    """FLOP/s of a 1024^3 float32 matmul on this machine, now (median)."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    return 2 * 1024**3 / _median_time(lambda: a @ b, repeats)


def counted_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def pixel_twin(cfg, nlat: int, nlon: int):
    """The config of ``cfg``'s network built on ``nlat x nlon`` fields of one channel (None: no twin).

    tunet: same widths, levels and kernels; its frame projections and per-pixel
    path then work on grid cells. spacetime: patches as many grid cells across
    as the latent model's patches cover, so the token count per month is the same.
    """
    if isinstance(cfg, TUNetConfig):
        return dataclasses.replace(cfg, latent_shape=(1, nlat, nlon))
    if isinstance(cfg, SpaceTimeConfig):
        factor = nlat // cfg.latent_shape[1]
        return dataclasses.replace(cfg, latent_shape=(1, nlat, nlon), patch=cfg.patch * factor)
    return None


def describe(cfg) -> str:
    if isinstance(cfg, SpaceTimeConfig):
        return f"{cfg.n_patches} patches of {cfg.patch}x{cfg.patch} cells"
    return f"frames of {cfg.frame_size} cells, d_model {cfg.d_model}, {cfg.local_channels} channels a cell"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", default="models/ensemble")
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--months", type=int, default=120)
    ap.add_argument("--sampler", default=DEFAULT_SAMPLER)
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = EnsembleGenerator.from_checkpoint(args.model_dir, device="cpu")
    nlat, nlon = len(gen.lat), len(gen.lon)
    years = args.months // 12
    cond = toy_ensemble(members=[25], start=1986, end=1986 + years - 1, grid=(nlat, nlon)).isel(member=0)
    rate = matmul_rate()
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} thread(s), device cpu; 1024^3 float32 matmul: {rate / 1e9:.0f} GFLOP/s"
    )
    print(
        f"task: {args.members} members x {cond.sizes['time']} months x {args.steps} steps ({args.sampler}), "
        "encoding and decoding included"
    )

    def run(mode):
        return gen.generate(
            cond,
            GenerationRequest(
                n_members=args.members, steps=args.steps, mode=mode, seed=0, sampler=args.sampler
            ),
        )

    latent = {}
    for mode in gen.modes:
        run(mode)  # warm-up
        t = _median_time(lambda mode=mode: run(mode), args.repeats)
        flops = counted_flops(lambda mode=mode: run(mode))
        latent[mode] = (t, flops)
        print(
            f"generate[{mode}]: median {t:.2f} s over {args.repeats} runs; {flops / 1e9:.1f} GFLOP done, "
            f"{flops / t / 1e9:.1f} GFLOP/s = {flops / t / rate:.0%} of the matmul rate"
        )
    z = torch.zeros(args.members * cond.sizes["time"], *gen.diffusion[gen.modes[0]].net.cfg.latent_shape)
    t_dec = _median_time(lambda: gen.decode(z), args.repeats)
    print(
        f"of which decoding {len(z)} frames: median {t_dec:.2f} s, {counted_flops(lambda: gen.decode(z)) / 1e9:.1f} GFLOP"
    )

    # the same family in pixel space: the network built on the 48x96 fields themselves
    lcfg = gen.diffusion[gen.modes[0]].net.cfg
    pcfg = pixel_twin(lcfg, nlat, nlon)
    if pcfg is None:
        print(
            "pixel-space comparison: only for the tunet and spacetime denoisers (this one is the earlier design)"
        )
        return
    pix = denoiser_class(pcfg)(pcfg).eval()
    n, w = args.members, min(lcfg.window, cond.sizes["time"])
    cond_px = torch.zeros(n, w, 1, nlat, nlon)
    month = torch.arange(w).remainder(12)[None].expand(n, -1)

    @torch.no_grad()
    def pixel_run():
        sample(
            lambda x, tt: pix(x, tt, cond_px, month),
            (n, w, 1, nlat, nlon),
            make_sampler(args.sampler, gen.diffusion[gen.modes[0]].schedule, args.steps),
            generator=torch.Generator().manual_seed(0),
        )

    pixel_run()
    t_pix = _median_time(pixel_run, args.repeats)
    f_pix = counted_flops(pixel_run)
    t_lat, f_lat = latent[gen.modes[0]]
    print(
        f"pixel-space denoiser of the same family ({describe(pcfg)}, "
        f"untrained, no decoding): median {t_pix:.2f} s, {f_pix / 1e9:.1f} GFLOP"
    )
    print(
        f"pixel / latent, same run ({gen.modes[0]} mode; above 1 means latent space is cheaper): "
        f"wall time {t_pix / t_lat:.2f}, FLOPs {f_pix / f_lat:.2f}"
    )


if __name__ == "__main__":
    main()
