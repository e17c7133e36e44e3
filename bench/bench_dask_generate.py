"""Generation across Dask workers: throughput against workers, and peak memory per worker.

    python bench/bench_dask_generate.py [--model-dir models/ensemble] [--workers 1,2] [--members 4]
        [--months 24] [--steps 10] [--members-per-task 2] [--repeats 3]
    python bench/bench_dask_generate.py --memory [--sampler-only] [--grid 96x192] [--years 156]
        [--members-per-task 1,2]

Throughput: for each worker count a LocalCluster of single-thread worker
processes generates the request into a Zarr store with ``generate_to_zarr``
(one warm-up run loads the model on the workers first); prints the median wall
time of the repeats and members/s and member-months/s. Startup of the cluster
is not counted.

Memory (``--memory``): one worker process generates ``members_per_task``
members over ``years`` years on the ``grid`` with an untrained network of the
shipped architecture (VAE channels 16/48/96, 4 latent channels, transformer
d_model 256 x 4 layers, window 24; memory does not depend on the weights) and
reports that worker's peak resident memory (``ru_maxrss``), the largest a
worker needs for a run of any number of members split into tasks of that
size. Two sampler steps (memory does not depend on the step count either).
``--memory --sampler-only`` measures what the latent sampler alone adds
(no VAE, no Dask), each member count in a fresh process: much faster, and
the part of the peak that grows with the members per task.
Nothing is asserted; numbers depend on the machine and on its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from climviz.requests import GenerationRequest


def _cond(nlat: int, nlon: int, start: int, months: int) -> xr.DataArray:
    """A smooth synthetic conditioning run in K (any values do for timing and memory)."""
    import cftime

    from climviz.data.grid import global_grid

    lat, lon = global_grid(nlat, nlon)
    times = [cftime.DatetimeProlepticGregorian(start + m // 12, m % 12 + 1, 15) for m in range(months)]
    rng = np.random.default_rng(0)
    base = np.broadcast_to(288 - 30 * np.sin(np.deg2rad(lat))[:, None] ** 2, (nlat, nlon))
    values = (base[None] + rng.standard_normal((months, nlat, nlon))).astype(np.float32)
    return xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        coords={"time": times, "lat": lat, "lon": lon},
        name="tas",
        attrs={"units": "K"},
    )


def untrained_generator(nlat: int, nlon: int):
    """The shipped architecture, random weights, on an ``nlat x nlon`` grid (for memory only)."""
    import torch

    from climviz.data.grid import global_grid
    from climviz.data.normalize import MonthlyNormalizer
    from climviz.diffusion.schedule import CosineSchedule
    from climviz.nn.temporal_denoiser import DenoiserConfig, TemporalDenoiser
    from climviz.nn.vae import VAE, VAEConfig
    from climviz.pipelines.ensemble import EnsembleGenerator, LatentDiffusion

    torch.manual_seed(0)
    vae = VAE(VAEConfig(channels=[16, 48, 96], latent_channels=4))
    f = vae.cfg.downsampling
    net = TemporalDenoiser(DenoiserConfig(latent_shape=(4, nlat // f, nlon // f)))
    stats = {"z_mean": np.zeros((4, nlat // f, nlon // f)), "z_std": [1.0] * 4, "res_std": [0.1] * 4}
    norm = MonthlyNormalizer(
        np.full((12, nlat, nlon), 280, np.float32), np.ones((12, nlat, nlon), np.float32)
    )
    lat, lon = global_grid(nlat, nlon)
    diffusion = {
        "transformer": LatentDiffusion(net, CosineSchedule(1000), stats, "transformer", name="untrained")
    }
    return EnsembleGenerator(vae, norm, diffusion, lat, lon, device="cpu")


class UntrainedFactory:
    """Picklable zero-argument factory for :func:`untrained_generator`."""

    def __init__(self, nlat: int, nlon: int):
        self.nlat, self.nlon = nlat, nlon

    def __call__(self):
        return untrained_generator(self.nlat, self.nlon)


def _throughput(args) -> None:
    from climviz.pipelines.distributed import connect, generate_to_zarr
    from climviz.pipelines.ensemble import EnsembleGenerator

    gen = EnsembleGenerator.from_checkpoint(args.model_dir, device="cpu")
    cond = _cond(len(gen.lat), len(gen.lon), 1986, args.months)
    model = str(Path(args.model_dir).absolute())
    request = GenerationRequest(
        n_members=args.members, steps=args.steps, mode="transformer", seed=0, sampler="ddim"
    )
    per_task = args.members_per_task
    print(
        f"request: {args.members} members x {args.months} months x {args.steps} DDIM steps, "
        f"{args.members_per_task} members per task, grid {len(gen.lat)}x{len(gen.lon)}, shipped models"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(w) for w in args.workers.split(",")]:
            with connect("local", n, dashboard_address=":0") as client:
                generate_to_zarr(
                    model, cond, Path(tmp) / "warm.zarr", request, members_per_task=per_task, client=client
                )
                times = []
                for r in range(args.repeats):
                    t0 = time.perf_counter()
                    generate_to_zarr(
                        model,
                        cond,
                        Path(tmp) / f"w{n}-{r}.zarr",
                        request,
                        members_per_task=per_task,
                        client=client,
                    )
                    times.append(time.perf_counter() - t0)
            t = statistics.median(times)
            print(
                f"workers={n}: median {t:.2f} s over {args.repeats} runs "
                f"(min {min(times):.2f}, max {max(times):.2f}) -> {args.members / t:.2f} members/s, "
                f"{args.members * args.months / t:.1f} member-months/s"
            )


def _memory(args) -> None:
    from climviz.data.grid import parse_grid
    from climviz.pipelines.distributed import connect, submit_generation

    nlat, nlon = parse_grid(args.grid)
    months = 12 * args.years
    cond = _cond(nlat, nlon, 1850, months)
    print(
        f"memory: {months} months on {nlat}x{nlon}, untrained shipped architecture, time_chunk "
        f"{args.time_chunk}, vae_batch {args.vae_batch}, 2 DDIM steps, one worker process"
    )
    runs = [(1, cond.isel(time=slice(0, 12)), "fixed cost: torch + model, 1 member x 12 months")]
    runs += [(int(k), cond, f"members_per_task={k}") for k in args.members_per_task.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (k, c, label) in enumerate(runs):
            with connect("local", 1, dashboard_address=":0", memory_limit=0) as client:  # a fresh worker
                t0 = time.perf_counter()
                job = submit_generation(
                    UntrainedFactory(nlat, nlon),
                    c,
                    Path(tmp) / f"m{i}.zarr",
                    GenerationRequest(n_members=k, steps=2, sampler="ddim"),
                    members_per_task=k,
                    client=client,
                    time_chunk=args.time_chunk,
                    vae_batch=args.vae_batch,
                )
                job.result()
                wall = time.perf_counter() - t0
            print(
                f"{label}: worker peak RSS {max(job.peak_rss.values()) / 2**30:.2f} GiB, {wall:.0f} s",
                flush=True,
            )


def _sampler_memory(args) -> None:
    """Peak memory the latent sampler adds for K members (no VAE), each K in a fresh process."""
    import subprocess
    import sys

    nlat, nlon = (int(v) for v in args.grid.split("x"))
    for k in [int(v) for v in args.members_per_task.split(",")]:
        code = (
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"from bench_dask_generate import sampler_peak; sampler_peak({k}, {12 * args.years}, {nlat}, {nlon})"
        )
        subprocess.run([sys.executable, "-c", code], check=True)


def sampler_peak(k: int, months: int, nlat: int, nlon: int) -> None:
    """Print the peak resident memory that sampling ``k`` members x ``months`` adds in this process."""
    import resource

    import torch

    from climviz.pipelines.ensemble import member_generators

    ld = untrained_generator(nlat, nlon).diffusion["transformer"]
    z_c = torch.zeros(months, *ld.net.cfg.latent_shape)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ld.sample_residual(
        z_c,
        np.arange(months) % 12,
        1850 + np.arange(months) / 12,
        k,
        steps=2,
        generator=member_generators(0, range(k)),
    )
    added = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 2**20
    print(
        f"sampler only, {k} member(s) x {months} months: adds {added:.2f} GiB to the peak "
        f"(process before: {before / 2**20:.2f} GiB)",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", default="models/ensemble")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--members-per-task", default="2", help="one number (throughput) or a list (--memory)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory", action="store_true", help="measure peak memory per worker instead")
    ap.add_argument("--sampler-only", action="store_true", help="with --memory: the latent sampler alone")
    ap.add_argument("--grid", default="96x192")
    ap.add_argument("--years", type=int, default=156)
    ap.add_argument("--time-chunk", type=int, default=120)
    ap.add_argument("--vae-batch", type=int, default=64)
    args = ap.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        "workers are single-thread processes"
    )
    if args.memory and args.sampler_only:
        _sampler_memory(args)
    elif args.memory:
        _memory(args)
    else:
        args.members_per_task = int(args.members_per_task)
        _throughput(args)


if __name__ == "__main__":
    main()
