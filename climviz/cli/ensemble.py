"""``climviz train vae``, ``climviz train ldm``, ``climviz generate`` and ``climviz evaluate ensemble``:
the latent diffusion ensemble generator. Heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from climviz.cli.commands import Commands, add_device_option, add_ema_option, check_ema
from climviz.cli.progress import progress_printer, train_progress
from climviz.vocabulary import DEFAULT_MODE, DEFAULT_SAMPLER, DEFAULT_STEPS, MODES, SAMPLER_NAMES, TRAIN_MODES


# ---------------------------------------------------------------- train / generate
def _print_regridding(data, model_dir) -> None:
    """The line saying how the training data were regridded, if they were (from the checkpoint)."""
    from climviz.nn import checkpoint as ckpt

    note = ckpt.load_config(model_dir).get("regridding")
    if note:
        print(f"climviz: {data}: {note}", file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace):
    from climviz.train.common import LoopSettings

    check_ema(args.ema)
    return LoopSettings(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        checkpoint_every=args.checkpoint_every,
        log_every=args.log_every,
        ema=args.ema,
    )


def _train_vae(args: argparse.Namespace) -> int:
    from climviz.data.grid import parse_grid
    from climviz.nn.vae import VAEConfig
    from climviz.pipelines.ensemble_training import parse_members, train_ensemble_decoder, train_ensemble_vae

    dec = [int(c) for c in args.decoder_channels.split(",")] if args.decoder_channels else None
    if args.decoder_for:
        if dec is None:
            raise ValueError("--decoder-for needs --decoder-channels (the new decoder's widths)")
        out = train_ensemble_decoder(
            args.data,
            args.decoder_for,
            Path(args.model_dir) / "vae",
            dec,
            members=parse_members(args.members),
            settings=_settings(args),
            resume=not args.restart,
            progress=train_progress("vae-decoder"),
        )
        print(out)
        return 0

    cfg = VAEConfig(
        channels=[int(c) for c in args.channels.split(",")],
        latent_channels=args.latent_channels,
        decoder_channels=dec,
    )
    out = train_ensemble_vae(
        args.data,
        Path(args.model_dir) / "vae",
        members=parse_members(args.members),
        settings=_settings(args),
        vae_config=cfg,
        beta=args.beta,
        resume=not args.restart,
        progress=train_progress("vae"),
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
                ("local_blocks", args.local_blocks),
            )
            if v is not None
        }
    )
    if args.architecture != "spacetime" and "patch" in arch:
        raise ValueError("--patch applies to --architecture spacetime only")
    if args.architecture == "tunet" and ("n_layers" in arch or "n_heads" in arch):
        raise ValueError("--layers and --heads do not apply to --architecture tunet")
    if args.architecture != "tunet" and "local_blocks" in arch:
        raise ValueError("--local-blocks applies to --architecture tunet only")
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
        progress=train_progress(f"ldm-{args.mode}"),
        lowfreq_weight=args.lowfreq_weight,
        base_years=args.base_years,
        init_from=args.init_from,
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


def _request(args: argparse.Namespace):
    """The :class:`~climviz.requests.GenerationRequest` of ``climviz generate``'s options."""
    from climviz.requests import GenerationRequest

    return GenerationRequest(
        n_members=args.members, steps=args.steps, mode=args.mode, seed=args.seed, sampler=args.sampler
    )


def _generate_distributed(args: argparse.Namespace) -> int:
    from climviz.nn import checkpoint as ckpt
    from climviz.pipelines.distributed import connect, generate_to_zarr

    if Path(args.output).suffix.lower() != ".zarr":
        raise ValueError(f"--scheduler writes one Zarr store: give -o a .zarr path, not {args.output!r}")
    if args.device != "auto":
        raise ValueError(
            "--device chooses where this process generates; with --scheduler the Dask workers choose"
        )
    grid = ckpt.load_config(Path(args.model_dir) / "vae")["grid"]
    cond = _open_cond(args, (grid["lat"], grid["lon"]))
    source = f"{args.cond}" + (f" member {args.member}" if args.member is not None else "")
    attrs = {"conditioning_source": source, **{k: v for k, v in cond.attrs.items() if k == "regridding"}}
    request = _request(args)
    with connect(args.scheduler, args.workers) as client:
        print(f"dask dashboard: {client.dashboard_link}", file=sys.stderr)
        out = generate_to_zarr(
            args.model_dir,
            cond.load(),
            args.output,
            request,
            members_per_task=args.members_per_task,
            client=client,
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
    request = _request(args)
    gen = EnsembleGenerator.from_checkpoint(args.model_dir, args.device)
    cond = _open_cond(args, (gen.lat, gen.lon)).load()
    out = gen.generate(cond, request, progress=progress_printer("network evaluations"))
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

    gen = EnsembleGenerator.from_checkpoint(args.model_dir, args.device)
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
    add_ema_option(p)
    p.add_argument("--restart", action="store_true", help="ignore a saved training state and start afresh")


def register(commands: Commands) -> None:
    """Add ``vae`` and ``ldm`` to ``commands.train``, ``generate`` to ``commands.top`` and
    ``ensemble`` to ``commands.evaluate``."""
    p = commands.train.add_parser("vae", help="the ensemble generator's VAE (and normalisation)")
    _add_loop_args(p, 4000, 32, 2e-3)
    p.add_argument("--channels", default="16,32,64", help="VAE widths per level (default 16,32,64)")
    p.add_argument("--latent-channels", type=int, default=4, help="latent channels (default 4)")
    p.add_argument("--beta", type=float, default=1e-4, help="KL weight (default 1e-4)")
    p.add_argument(
        "--decoder-channels", default=None, help="the decoder's widths per level (default: --channels)"
    )
    p.add_argument(
        "--decoder-for",
        default=None,
        metavar="VAE_DIR",
        help="train only a new decoder (--decoder-channels) for VAE_DIR's frozen encoder, so that "
        "diffusion models trained on its latents keep working; writes MODEL_DIR/vae",
    )
    p.add_argument(
        "--grid",
        default=None,
        help="train on this NLATxNLON Gaussian grid, regridding the data (default: the data's own grid)",
    )
    p.set_defaults(handler=_train_vae)
    p = commands.train.add_parser("ldm", help="the residual latent diffusion model")
    _add_loop_args(p, 4000, 32, 5e-4)
    p.add_argument(
        "--mode",
        choices=TRAIN_MODES,
        default="both",
        help="how the network will sample; 'both' (default) trains one network for both modes",
    )
    p.add_argument(
        "--architecture",
        choices=["tunet", "spacetime", "temporal"],
        default="tunet",
        help="tunet (default: temporal-convolution U-Net over months plus a per-pixel path, "
        "no calendar year), spacetime (patch tokens, space-time attention, no calendar year) "
        "or temporal (one token a month, calendar-year features, the earlier design)",
    )
    p.add_argument(
        "--init-from",
        default=None,
        help="start from this denoiser checkpoint's weights (fine-tuning; new parameters start at zero)",
    )
    p.add_argument(
        "--lowfreq-weight",
        type=float,
        default=12.0,
        help="weight of the loss on 12-month running means of the error (default 12; 0: plain loss)",
    )
    p.add_argument(
        "--base-years",
        type=int,
        default=0,
        help="learn the residual from the conditioning run's same-month mean over this many years "
        "either side (default 0: from the run itself)",
    )
    p.add_argument("--window", type=int, default=120, help="months per training window (default 120)")
    p.add_argument("--period", default=None, help="train on these years only, e.g. 1850-1975")
    p.add_argument("--d-model", type=int, default=None, help="token width (default: the architecture's)")
    p.add_argument("--layers", type=int, default=None, help="blocks (default: the architecture's)")
    p.add_argument("--heads", type=int, default=None, help="attention heads (default: the architecture's)")
    p.add_argument(
        "--local-blocks",
        type=int,
        default=None,
        help="blocks of tunet's per-pixel path (default 1; with --init-from, the added blocks start "
        "as the identity)",
    )
    p.add_argument(
        "--patch", type=int, default=None, help="spacetime: patch size in latent pixels (default 4)"
    )
    p.set_defaults(handler=_train_ldm)

    p = commands.top.add_parser("generate", help="generate new ensemble members from a conditioning run")
    p.add_argument("--model-dir", default="models/ensemble", help="generator directory")
    p.add_argument("--cond", required=True, help="conditioning run: a file holding one run, or an ensemble")
    p.add_argument("--member", type=int, default=None, help="member of --cond to condition on")
    p.add_argument("--start", default=None, help="first month, e.g. 1980-01")
    p.add_argument("--end", default=None, help="last month, e.g. 1999-12")
    p.add_argument("--members", type=int, default=5, help="members to generate (default 5)")
    p.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help=f"sampler steps (default {DEFAULT_STEPS})"
    )
    p.add_argument("--mode", choices=MODES, default=DEFAULT_MODE)
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
    add_device_option(p)
    p.set_defaults(handler=_generate)

    p = commands.evaluate.add_parser("ensemble", help="generated vs held-out true members (JSON + table)")
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
    p.add_argument("--mode", choices=MODES, default=None, help="default: both")
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
    add_device_option(p)
    p.set_defaults(handler=_evaluate_ensemble)
