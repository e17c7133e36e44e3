"""The ``climviz`` command.

Each sub-command parses its arguments here and calls one library function;
heavy imports (torch, xarray) happen inside the handlers so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from climviz.cli_progress import progress_printer
from climviz.vocabulary import DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLER_NAMES

Handler = Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------- data
def _data_toy_ensemble(args: argparse.Namespace) -> int:
    from climviz.data.grid import parse_grid
    from climviz.data.toy_ensemble_io import write_toy_ensemble

    write_toy_ensemble(
        args.output,
        members=args.members,
        start=args.start,
        end=args.end,
        grid=parse_grid(args.grid),
        seed=args.seed,
        progress=progress_printer("members written"),
    )
    print(args.output)
    return 0


def _data_toy_wind(args: argparse.Namespace) -> int:
    from climviz.data.grid import parse_grid
    from climviz.data.toy_wind import write_toy_wind

    write_toy_wind(
        args.output,
        grid=parse_grid(args.grid),
        days=args.days,
        seed=args.seed,
        interval_hours=args.interval_hours,
        progress=progress_printer("days simulated"),
    )
    print(args.output)
    return 0


# ---------------------------------------------------------------- train / generate
def _train_progress(label: str):
    def progress(done: int, total: int, metrics: dict) -> None:
        extra = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        print(f"{label} step {done}/{total} {extra}", file=sys.stderr, flush=True)

    return progress


def _print_regridding(data, model_dir) -> None:
    """The line saying how the training data were regridded, if they were (from the checkpoint)."""
    from climviz.nn import checkpoint as ckpt

    note = ckpt.load_config(model_dir).get("regridding")
    if note:
        print(f"climviz: {data}: {note}", file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace):
    from climviz.train.common import LoopSettings

    return LoopSettings(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
    )


def _train_vae(args: argparse.Namespace) -> int:
    from climviz.data.grid import parse_grid
    from climviz.nn.vae import VAEConfig
    from climviz.pipelines.ensemble_training import parse_members, train_ensemble_vae

    cfg = VAEConfig(channels=[int(c) for c in args.channels.split(",")], latent_channels=args.latent_channels)
    out = train_ensemble_vae(
        args.data,
        Path(args.model_dir) / "vae",
        members=parse_members(args.members),
        settings=_settings(args),
        vae_config=cfg,
        beta=args.beta,
        resume=not args.restart,
        progress=_train_progress("vae"),
        grid=parse_grid(args.grid) if args.grid else None,
    )
    _print_regridding(args.data, out)
    print(out)
    return 0


def _train_ldm(args: argparse.Namespace) -> int:
    from climviz.pipelines.ensemble_training import parse_members, train_ensemble_ldm

    arch = {"architecture": args.architecture, "window": args.window}
    arch.update(
        {
            k: v
            for k, v in (
                ("d_model", args.d_model),
                ("n_layers", args.layers),
                ("n_heads", args.heads),
                ("patch", args.patch),
            )
            if v is not None
        }
    )
    if args.architecture != "spacetime" and "patch" in arch:
        raise ValueError("--patch applies to --architecture spacetime only")
    period = None
    if args.period:
        try:
            a, b = (int(v) for v in args.period.split("-"))
        except ValueError:
            raise ValueError(f"--period must look like 1850-1975, got {args.period!r}") from None
        period = (a, b)
    out = train_ensemble_ldm(
        args.data,
        args.model_dir,
        mode=args.mode,
        members=parse_members(args.members),
        settings=_settings(args),
        resume=not args.restart,
        architecture=arch,
        period=period,
        progress=_train_progress(f"ldm-{args.mode}"),
    )
    _print_regridding(args.data, out)
    print(out)
    return 0


def _open_cond(args: argparse.Namespace, grid):
    """The conditioning run of ``--cond``/``--member``/``--start``/``--end`` on the model's ``grid``;
    a run regridded on the way says so on stderr."""
    from climviz.data.loader import open_run

    cond = open_run(args.cond, member=args.member, grid=grid)
    if "regridding" in cond.attrs:
        print(f"climviz: {args.cond}: {cond.attrs['regridding']}", file=sys.stderr, flush=True)
    if args.start or args.end:
        cond = cond.sel(time=slice(args.start, args.end))
    return cond


def _generate_distributed(args: argparse.Namespace) -> int:
    from climviz.nn import checkpoint as ckpt
    from climviz.pipelines.distributed import connect, generate_to_zarr

    if Path(args.output).suffix.lower() != ".zarr":
        raise ValueError(f"--scheduler writes one Zarr store: give -o a .zarr path, not {args.output!r}")
    grid = ckpt.load_config(Path(args.model_dir) / "vae")["grid"]
    cond = _open_cond(args, (grid["lat"], grid["lon"]))
    source = f"{args.cond}" + (f" member {args.member}" if args.member is not None else "")
    attrs = {"conditioning_source": source, **{k: v for k, v in cond.attrs.items() if k == "regridding"}}
    with connect(args.scheduler, args.workers) as client:
        print(f"dask dashboard: {client.dashboard_link}", file=sys.stderr)
        out = generate_to_zarr(
            args.model_dir,
            cond.load(),
            args.output,
            args.members,
            args.steps,
            args.mode,
            args.seed,
            args.sampler,
            args.members_per_task,
            client,
            attrs=attrs,
            progress=progress_printer("members"),
        )
    print(out)
    return 0


def _generate(args: argparse.Namespace) -> int:
    if args.scheduler:
        return _generate_distributed(args)
    from climviz.data.io import check_output_path, write_dataset
    from climviz.pipelines.ensemble import EnsembleGenerator

    check_output_path(args.output)  # a bad suffix or directory fails now, not after the sampling
    gen = EnsembleGenerator.from_checkpoint(args.model_dir)
    cond = _open_cond(args, (gen.lat, gen.lon)).load()
    out = gen.generate(
        cond,
        n_members=args.members,
        steps=args.steps,
        mode=args.mode,
        seed=args.seed,
        sampler=args.sampler,
        progress=progress_printer("network evaluations"),
    )
    out.attrs["conditioning_source"] = f"{args.cond}" + (
        f" member {args.member}" if args.member is not None else ""
    )
    write_dataset(out, args.output)
    print(args.output)
    return 0


def _evaluate_ensemble(args: argparse.Namespace) -> int:
    import json

    from climviz.pipelines.ensemble import EnsembleGenerator
    from climviz.pipelines.ensemble_eval import markdown_table, run_evaluation
    from climviz.pipelines.ensemble_training import parse_members

    gen = EnsembleGenerator.from_checkpoint(args.model_dir)
    result = run_evaluation(
        gen,
        args.data,
        cond_member=args.cond_member,
        truth_members=parse_members(args.truth_members),
        ideal_members=parse_members(args.ideal_members),
        n_members=args.members,
        steps=args.steps,
        modes=[args.mode] if args.mode else None,
        start=args.start,
        end=args.end,
        seed=args.seed,
        sampler=args.sampler,
        out_dir=args.output,
        progress=progress_printer("network evaluations"),
        n_resamples=args.resamples,
    )
    table = markdown_table(result)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    (Path(args.output) / "ensemble_scores.md").write_text(table + "\n")
    print(table)
    print(json.dumps({m: r["targets_met"] for m, r in result["modes"].items()}, indent=1))
    return 0


def _add_loop_args(p: argparse.ArgumentParser, steps: int, batch: int, lr: float) -> None:
    p.add_argument("--data", required=True, help="training ensemble (NetCDF/Zarr path or glob)")
    p.add_argument(
        "--model-dir", default="models/ensemble", help="generator directory (default models/ensemble)"
    )
    p.add_argument("--members", default=None, help="training members, e.g. 0-24 (default: all)")
    p.add_argument("--steps", type=int, default=steps, help=f"optimiser steps (default {steps})")
    p.add_argument("--batch-size", type=int, default=batch, help=f"batch size (default {batch})")
    p.add_argument("--lr", type=float, default=lr, help=f"peak learning rate (default {lr})")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints")
    p.add_argument("--log-every", type=int, default=25, help="steps between progress lines")
    p.add_argument("--restart", action="store_true", help="ignore a saved training state and start afresh")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="climviz",
        description="Explore generative-AI emulators of climate simulations.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="make the embedded synthetic data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="DATASET")

    p = data_sub.add_parser(
        "toy-ensemble",
        help="synthetic grand ensemble of monthly surface temperature (tas, K)",
        description="Write a synthetic, physically motivated grand ensemble of monthly "
        "near-surface temperature as CF NetCDF (.nc) or Zarr (.zarr). The data is synthetic.",
    )
    p.add_argument("-o", "--output", required=True, help="output path (.nc or .zarr)")
    p.add_argument("--members", type=int, default=30, help="number of members (default 30)")
    p.add_argument("--start", type=int, default=1850, help="first year (default 1850)")
    p.add_argument("--end", type=int, default=2005, help="last year, inclusive (default 2005)")
    p.add_argument("--grid", default="96x192", help="NLATxNLON Gaussian grid (default 96x192)")
    p.add_argument("--seed", type=int, default=0, help="ensemble seed (default 0)")
    p.set_defaults(handler=_data_toy_ensemble)

    p = data_sub.add_parser(
        "toy-wind",
        help="synthetic global u/v wind from a spherical shallow-water model",
        description="Write global u, v and relative vorticity from the torch-harmonics "
        "shallow-water solver as CF NetCDF (.nc) or Zarr (.zarr). The data is synthetic.",
    )
    p.add_argument("-o", "--output", required=True, help="output path (.nc or .zarr)")
    p.add_argument("--grid", default="128x256", help="NLATxNLON (default 128x256)")
    p.add_argument("--days", type=float, default=30.0, help="simulated days after spin-up")
    p.add_argument("--interval-hours", type=float, default=6.0, help="output interval (hours)")
    p.add_argument("--seed", type=int, default=0, help="seed for the initial condition")
    p.set_defaults(handler=_data_toy_wind)

    train = sub.add_parser("train", help="train models (resumable; checkpoints as it goes)")
    train_sub = train.add_subparsers(dest="train_command", required=True, metavar="MODEL")
    p = train_sub.add_parser("vae", help="the ensemble generator's VAE (and normalisation)")
    _add_loop_args(p, 4000, 32, 2e-3)
    p.add_argument("--channels", default="16,32,64", help="VAE widths per level (default 16,32,64)")
    p.add_argument("--latent-channels", type=int, default=4, help="latent channels (default 4)")
    p.add_argument("--beta", type=float, default=1e-4, help="KL weight (default 1e-4)")
    p.add_argument(
        "--grid",
        default=None,
        help="train on this NLATxNLON Gaussian grid, regridding the data (default: the data's own grid)",
    )
    p.set_defaults(handler=_train_vae)
    p = train_sub.add_parser("ldm", help="the residual latent diffusion model")
    _add_loop_args(p, 4000, 32, 5e-4)
    p.add_argument(
        "--mode",
        choices=["transformer", "autoregressive", "both"],
        default="both",
        help="how the network will sample; 'both' (default) trains one network for both modes",
    )
    p.add_argument(
        "--architecture",
        choices=["spacetime", "temporal"],
        default="spacetime",
        help="spacetime (default: patch tokens, space-time attention, no calendar year) "
        "or temporal (one token a month, the earlier design)",
    )
    p.add_argument("--window", type=int, default=120, help="months per training window (default 120)")
    p.add_argument("--period", default=None, help="train on these years only, e.g. 1850-1975")
    p.add_argument("--d-model", type=int, default=None, help="token width (default: the architecture's)")
    p.add_argument("--layers", type=int, default=None, help="blocks (default: the architecture's)")
    p.add_argument("--heads", type=int, default=None, help="attention heads (default: the architecture's)")
    p.add_argument(
        "--patch", type=int, default=None, help="spacetime: patch size in latent pixels (default 4)"
    )
    p.set_defaults(handler=_train_ldm)

    p = sub.add_parser("generate", help="generate new ensemble members from a conditioning run")
    p.add_argument("--model-dir", default="models/ensemble", help="generator directory")
    p.add_argument("--cond", required=True, help="conditioning run: a file holding one run, or an ensemble")
    p.add_argument("--member", type=int, default=None, help="member of --cond to condition on")
    p.add_argument("--start", default=None, help="first month, e.g. 1980-01")
    p.add_argument("--end", default=None, help="last month, e.g. 1999-12")
    p.add_argument("--members", type=int, default=5, help="members to generate (default 5)")
    p.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help=f"sampler steps (default {DEFAULT_STEPS})"
    )
    p.add_argument("--mode", choices=["transformer", "autoregressive"], default="transformer")
    p.add_argument(
        "--sampler",
        choices=SAMPLER_NAMES,
        default=DEFAULT_SAMPLER,
        help=f"default {DEFAULT_SAMPLER}: keeps the ensemble spread at few steps (README, Samplers)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="output path (.nc or .zarr)")
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS|local",
        help="generate on Dask workers into one Zarr store (-o x.zarr): a scheduler address "
        "(tcp://host:8786) or 'local' for a LocalCluster on this machine",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="worker processes of a local cluster (default 1)"
    )
    p.add_argument("--members-per-task", type=int, default=4, help="members per Dask task (default 4)")
    p.set_defaults(handler=_generate)

    evaluate = sub.add_parser("evaluate", help="score trained models against held-out truth")
    evaluate_sub = evaluate.add_subparsers(dest="evaluate_command", required=True, metavar="WHAT")
    p = evaluate_sub.add_parser("ensemble", help="generated vs held-out true members (JSON + table)")
    p.add_argument("--data", required=True, help="the ensemble the generator was trained on")
    p.add_argument("--model-dir", default="models/ensemble")
    p.add_argument("--cond-member", type=int, default=25, help="held-out member to condition on (default 25)")
    p.add_argument("--truth-members", default="26-29", help="held-out members scored against (default 26-29)")
    p.add_argument("--ideal-members", default="0-24", help="true members forming the ideal ensemble")
    p.add_argument("--members", type=int, default=10, help="generated (and ideal) ensemble size (default 10)")
    p.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help=f"sampler steps (default {DEFAULT_STEPS})"
    )
    p.add_argument(
        "--sampler", choices=SAMPLER_NAMES, default=DEFAULT_SAMPLER, help=f"default {DEFAULT_SAMPLER}"
    )
    p.add_argument("--mode", choices=["transformer", "autoregressive"], default=None, help="default: both")
    p.add_argument("--start", default="1950-01", help="first month scored (default 1950-01)")
    p.add_argument("--end", default="2005-12", help="last month scored (default 2005-12)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--resamples",
        type=int,
        default=200,
        help="draws of true members for the perfect-generator ranges (default 200; 0 skips them)",
    )
    p.add_argument("-o", "--output", default="eval/ensemble", help="directory for JSON and table")
    p.set_defaults(handler=_evaluate_ensemble)

    from climviz.cli_downscale import register

    register(train_sub, evaluate_sub, sub)
    return parser


@contextlib.contextmanager
def _sigterm_exits():
    """While inside, SIGTERM raises ``SystemExit`` so ``finally`` blocks run (the atomic
    writers then remove their partial output); the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _sigterm_exits():
            return args.handler(args)
    except (ValueError, OSError) as err:  # bad input, unreadable or unwritable paths: one line, no traceback
        print(f"climviz: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except MemoryError:
        print("climviz: error: out of memory; ask for fewer members or a shorter period", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
