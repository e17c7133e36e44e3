"""``climviz train taudiff``, ``climviz downscale`` and ``climviz evaluate downscale``: the TAUDiff
downscaler and its baseline. Heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from climviz.cli.commands import Commands, add_device_option, add_ema_option, check_ema
from climviz.cli.progress import progress_printer, train_progress
from climviz.vocabulary import (
    CAU_KINDS,
    DEFAULT_BURN_IN,
    DEFAULT_CAU,
    DEFAULT_DOWNSCALE_SAMPLER,
    DEFAULT_DOWNSCALE_STEPS,
    DEFAULT_NOISE_CORRELATION,
    SAMPLER_NAMES,
)


# ---------------------------------------------------------------- handlers
def _train_taudiff(args: argparse.Namespace) -> int:
    from climviz.pipelines.downscale_training import DEFAULT_SETTINGS, STAGES, train_taudiff
    from climviz.train.common import LoopSettings

    if args.fold is not None and not (args.stage == "folds" and 1 <= args.fold <= args.crossfit):
        raise ValueError(
            f"--fold {args.fold} needs --stage folds and --crossfit K with 1 <= {args.fold} <= K"
        )
    check_ema(args.ema)
    if args.prev_drop is not None and not args.condition_on_previous:
        raise ValueError("--prev-drop needs --condition-on-previous")
    if args.eval_every is not None and args.val_days is None:
        raise ValueError("--eval-every needs --val-days (a validation period to evaluate)")
    if args.patience and args.val_days is None:
        raise ValueError("--patience needs --val-days (a validation period to stop on)")
    eval_every = (args.eval_every or args.checkpoint_every) if args.val_days is not None else 0
    stages = STAGES if args.stage == "all" else (args.stage,)
    settings = {}
    for s in stages:
        d = DEFAULT_SETTINGS[s]
        settings[s] = LoopSettings(
            steps=args.steps or d.steps,
            batch_size=args.batch_size or d.batch_size,
            lr=args.lr or d.lr,
            seed=args.seed,
            checkpoint_every=args.checkpoint_every,
            log_every=args.log_every,
            eval_every=eval_every,
            patience=args.patience,
            ema=args.ema,
        )
    out = train_taudiff(
        args.data,
        args.model_dir,
        stage=args.stage,
        baseline_dir=args.baseline_dir,
        factor=args.factor,
        holdout=args.holdout,
        val_days=args.val_days,
        test_days=args.test_days,
        settings=settings,
        resume=not args.restart,
        progress=train_progress(f"taudiff-{args.stage}"),
        crossfit=args.crossfit,
        fold=None if args.fold is None else args.fold - 1,
        folds_dir=args.folds_dir,
        cau=args.cau,
        prev_residual=args.condition_on_previous,
        **({} if args.prev_drop is None else {"prev_residual_drop": args.prev_drop}),
    )
    for path in out.values():
        print(path)
    return 0


def _downscale(args: argparse.Namespace) -> int:
    from climviz.data.io import check_output_path, write_dataset
    from climviz.pipelines.downscale import load_downscaler
    from climviz.pipelines.wind_data import open_winds
    from climviz.requests import DownscaleRequest

    check_output_path(args.output)  # refuse a bad output before any work
    request = DownscaleRequest(
        n_samples=args.samples,
        steps=args.steps,
        seed=args.seed,
        sampler=args.sampler,
        noise_correlation=args.noise_correlation,
        burn_in=args.burn_in,
    )
    model = load_downscaler(args.model_dir, args.device)
    ds = open_winds(args.input)
    if args.start or args.end:
        ds = ds.sel(time=slice(args.start, args.end))
    ds = ds.load()
    if args.coarsen:
        from climviz.data.coarsen import coarsen

        ds = coarsen(ds, args.factor)
    out = model.downscale(ds, request, progress=progress_printer("network evaluations"))
    out.attrs["input_source"] = str(args.input) + (" (coarsened by climviz)" if args.coarsen else "")
    write_dataset(out, args.output)
    print(args.output)
    return 0


def _evaluate_downscale(args: argparse.Namespace) -> int:
    import json

    from climviz.pipelines.downscale_eval import evaluate_downscale, markdown_table

    extra = {} if args.track_km is None else {"track_km": args.track_km}
    report = evaluate_downscale(
        args.data,
        args.model_dir,
        baseline_dir=args.baseline_dir,
        n_samples=args.samples,
        steps=args.steps,
        baseline_steps=args.baseline_steps,
        baseline_sampler=args.baseline_sampler,
        frames=args.frames,
        holdout=args.holdout,
        test_days=args.test_days,
        val_days=args.val_days,
        period=args.period,
        factor=args.factor,
        seed=args.seed,
        noise_correlation=args.noise_correlation,
        burn_in=args.burn_in,
        progress=progress_printer("network evaluations"),
        figures=args.figures,
        device=args.device,
        **extra,
    )
    text = json.dumps(report, indent=1)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)  # after minutes of work: never fail here
        Path(args.output).write_text(text)
        print(args.output)
    print(markdown_table(report))
    return 0


# ---------------------------------------------------------------- parsers
def _add_noise_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--noise-correlation",
        type=float,
        default=DEFAULT_NOISE_CORRELATION,
        metavar="RHO",
        help="correlation in [0, 1) of each sample's initial noise from one frame to the next; "
        f"0 draws every frame afresh (default {DEFAULT_NOISE_CORRELATION})",
    )
    p.add_argument(
        "--burn-in",
        type=int,
        default=DEFAULT_BURN_IN,
        metavar="K",
        help="discarded draws of the first frame before it, so that it has a predecessor like the "
        f"others (models that sample frames in time order; default {DEFAULT_BURN_IN})",
    )


def register(commands: Commands) -> None:
    """Add ``taudiff`` to ``commands.train``, ``downscale`` to ``commands.top`` and ``downscale``
    to ``commands.evaluate``."""
    p = commands.train.add_parser(
        "taudiff",
        help="the TAUDiff downscaler (mean, residual) and its baseline",
        description="Train TAUDiff (SimVP-TAU mean model + CAU-UNet residual diffusion) "
        "and the end-to-end diffusion baseline on a fine u/v wind file. Coarse inputs are "
        "made by spherical band-limiting. The time axis is split into training, validation "
        "(--val-days, optional) and test (--test-days, else the last --holdout) periods, in that "
        "order; the test period is never used, the validation period only for early stopping.",
    )
    p.add_argument(
        "--data",
        required=True,
        help="fine wind file (NetCDF/Zarr with u, v), e.g. from `climviz data toy-wind`",
    )
    p.add_argument("--model-dir", default="models/taudiff", help="TAUDiff directory (default models/taudiff)")
    p.add_argument("--baseline-dir", default=None, help="baseline directory (default <model-dir>-baseline)")
    p.add_argument(
        "--stage",
        choices=["mean", "folds", "residual", "baseline", "all"],
        default="all",
        help="what to train (residual needs a trained mean stage, or the folds stage with "
        "--crossfit; default all)",
    )
    p.add_argument(
        "--crossfit",
        type=int,
        default=0,
        metavar="K",
        help="train the residual stage on out-of-fold mean predictions from K fold mean models "
        "(the folds stage), so that it learns residuals as large as on unseen data; 0: on the "
        "mean model's own fit (default 0)",
    )
    p.add_argument(
        "--fold",
        type=int,
        default=None,
        metavar="I",
        help="with --stage folds: train only fold I of K (1..K), e.g. one per process",
    )
    p.add_argument("--folds-dir", default=None, help="fold models (default <model-dir>/mean-folds)")
    p.add_argument(
        "--cau",
        choices=CAU_KINDS,
        default=DEFAULT_CAU,
        help="Channel Attention Unit of the residual and baseline CAU-UNets: se (squeeze-excitation) "
        f"or tau (TAU's static large-kernel branch times squeeze-excitation; default {DEFAULT_CAU})",
    )
    p.add_argument(
        "--condition-on-previous",
        action="store_true",
        help="residual stage: condition each frame on the previous frame's residual; "
        "`climviz downscale` then samples the frames in time order, each given the residual "
        "sampled for the one before (against flicker)",
    )
    p.add_argument(
        "--prev-drop",
        type=float,
        default=None,
        metavar="P",
        help="with --condition-on-previous: chance that a training frame gets zeros instead of "
        "the previous residual, as the first frame of a sequence does (default 0.1)",
    )
    p.add_argument("--factor", type=int, default=4, help="coarsening factor (default 4)")
    p.add_argument(
        "--holdout",
        type=float,
        default=0.2,
        help="test (held-out) fraction at the end, when --test-days is not given (default 0.2)",
    )
    p.add_argument(
        "--test-days", type=float, default=None, metavar="D", help="test period: the last D days of the data"
    )
    p.add_argument(
        "--val-days",
        type=float,
        default=None,
        metavar="D",
        help="validation period: the D days before the test period; the loss on it is evaluated "
        "every --eval-every steps, config.json keeps the best weights and the validation curve",
    )
    p.add_argument(
        "--eval-every",
        type=int,
        default=None,
        metavar="K",
        help="steps between validation losses (needs --val-days; default --checkpoint-every)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=0,
        metavar="N",
        help="stop a stage after N validation losses in a row without a new best (needs --val-days; "
        "default 0: run all --steps, still keeping the best weights)",
    )
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (default per stage)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (default per stage)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default per stage)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints")
    p.add_argument("--log-every", type=int, default=25, help="steps between progress lines")
    add_ema_option(p)
    p.add_argument("--restart", action="store_true", help="ignore a saved training state and start afresh")
    p.set_defaults(handler=_train_taudiff)

    p = commands.top.add_parser(
        "downscale",
        help="downscale coarse u/v wind with TAUDiff or the baseline",
        description="Downscale coarse u, v (time, lat, lon) to the fine grid, with samples.",
    )
    p.add_argument("--model-dir", default="models/taudiff", help="TAUDiff or baseline directory")
    p.add_argument("--input", required=True, help="coarse wind file (or a fine one with --coarsen)")
    p.add_argument("--coarsen", action="store_true", help="coarsen the (fine) input first, as in training")
    p.add_argument("--factor", type=int, default=4, help="coarsening factor for --coarsen (default 4)")
    p.add_argument("--start", default=None, help="first time step, e.g. 2000-03-01")
    p.add_argument("--end", default=None, help="last time step")
    p.add_argument("--samples", type=int, default=1, help="samples per time step (default 1)")
    p.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_DOWNSCALE_STEPS,
        help=f"sampler steps (default {DEFAULT_DOWNSCALE_STEPS})",
    )
    p.add_argument("--sampler", choices=SAMPLER_NAMES, default=DEFAULT_DOWNSCALE_SAMPLER)
    p.add_argument("--seed", type=int, default=0)
    _add_noise_options(p)
    p.add_argument("-o", "--output", required=True, help="output path (.nc or .zarr)")
    add_device_option(p)
    p.set_defaults(handler=_downscale)

    p = commands.evaluate.add_parser(
        "downscale",
        help="spectra, vorticity, time coherence, RMSE and CRPS on held-out time",
        description="Evaluate TAUDiff (and the baseline) against the truth on the "
        "held-out end of a fine wind file; prints a markdown table.",
    )
    p.add_argument("--data", required=True, help="fine wind file the models were trained on")
    p.add_argument("--model-dir", default="models/taudiff")
    p.add_argument(
        "--baseline-dir", default=None, help="baseline directory (default <model-dir>-baseline if present)"
    )
    p.add_argument("--samples", type=int, default=4)
    p.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_DOWNSCALE_STEPS,
        help=f"TAUDiff sampler steps (default {DEFAULT_DOWNSCALE_STEPS})",
    )
    p.add_argument(
        "--baseline-steps", type=int, default=None, help="baseline sampler steps (default --steps)"
    )
    p.add_argument(
        "--baseline-sampler",
        choices=SAMPLER_NAMES,
        default=None,
        help=f"baseline sampler (default TAUDiff's, {DEFAULT_DOWNSCALE_SAMPLER})",
    )
    p.add_argument("--frames", type=int, default=32, help="held-out frames to evaluate (default 32)")
    p.add_argument("--holdout", type=float, default=0.2, help="held-out fraction at the end (default 0.2)")
    p.add_argument(
        "--test-days",
        type=float,
        default=None,
        metavar="D",
        help="held-out period: the last D days (as `climviz train taudiff --test-days`); overrides --holdout",
    )
    p.add_argument(
        "--period",
        choices=("test", "validation"),
        default="test",
        help="score the test period (default) or the validation period before it (needs --val-days), "
        "to choose sampling settings without looking at the test period",
    )
    p.add_argument(
        "--val-days",
        type=float,
        default=None,
        metavar="D",
        help="validation period (with --period validation)",
    )
    p.add_argument("--factor", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    _add_noise_options(p)
    p.add_argument(
        "--track-km",
        type=float,
        default=None,
        help="vortex-track continuity: how far (great circle, km) a vortex may move between "
        "consecutive frames and still count as continued (default 500)",
    )
    p.add_argument("-o", "--output", default=None, help="JSON report path")
    p.add_argument("--figures", default=None, help="directory for PNG figures (spectra, vorticity snapshots)")
    add_device_option(p)
    p.set_defaults(handler=_evaluate_downscale)
