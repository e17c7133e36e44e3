"""Train TAUDiff and its baseline from a fine wind file (xarray in, checkpoint directories out).

Stages (each resumable; each writes ``config.json`` + ``model.safetensors``):

1. ``mean``: SimVP-TAU on (coarse, fine) windows -> ``<model_dir>/mean``;
2. ``folds`` (with ``crossfit=K``): K more mean models, each trained without one
   of K contiguous blocks of the training period -> ``<folds_dir>/fold-i-of-K``;
3. ``residual``: the CAU-UNet diffusion model learns ``fine - mean`` over the
   training period -> ``<model_dir>/residual``. With ``crossfit=K`` each step's
   ``mean`` comes from the fold model that did not see it (out-of-fold), so the
   residuals it learns are as large as the ones the mean model leaves on new
   data; without, ``mean`` is the mean model's fit to data it was trained on,
   whose residual can be far smaller (a model that memorises its training
   period leaves almost none). With ``prev_residual=True`` it also learns from
   the true residual of the step before (zeros with probability
   ``prev_residual_drop``), so that ``Downscaler`` can sample the frames in time
   order, each given the one before;
4. ``baseline``: end-to-end diffusion on the fine field -> ``<baseline_dir>``
   (default ``<model_dir>-baseline``).

Coarse inputs are made with :func:`climviz.data.coarsen.coarsen` (spherical-
harmonic band limit with a taper, then the grid ``factor`` times coarser). The
time axis is split into consecutive training, validation and test periods
(:func:`~climviz.pipelines.wind_data.split_periods`): the test period, the last
``test_days`` (default: the last ``holdout`` fraction), is never read in
training (it is the evaluation period of ``climviz evaluate downscale``); the
optional validation period, the ``val_days`` before it, serves early stopping
only (with ``eval_every`` in the stage's :class:`LoopSettings`). The residual
stage validates on the mean model's predictions for the validation period.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import xarray as xr

from climviz.nn import checkpoint as ckpt
from climviz.nn.cau_unet import CAUUNetConfig, baseline_config, residual_config
from climviz.nn.simvp import SimVPConfig
from climviz.nn.wind_fields import VARIABLES, denormalize, normalize
from climviz.pipelines.downscale import predict_mean
from climviz.pipelines.wind_data import Periods, make_pairs, open_winds, split_wind_periods
from climviz.train.common import LoopSettings, Progress, default_device
from climviz.train.taudiff import (
    PREV_RESIDUAL_DROP,
    grid_dict,
    train_baseline,
    train_mean_model,
    train_residual_diffusion,
    wind_statistics,
)
from climviz.vocabulary import DEFAULT_CAU

STAGES = ("mean", "folds", "residual", "baseline")
DEFAULT_SETTINGS = {
    "mean": LoopSettings(steps=3000, batch_size=8, lr=1e-3),
    "folds": LoopSettings(steps=3000, batch_size=8, lr=1e-3),
    "residual": LoopSettings(steps=4000, batch_size=16, lr=5e-4),
    "baseline": LoopSettings(steps=4000, batch_size=16, lr=5e-4),
}


def _arrays(ds: xr.Dataset) -> np.ndarray:
    return np.stack([np.asarray(ds[v].values, np.float32) for v in VARIABLES], axis=1)  # [N, C, H, W]


def _provenance(fine: xr.Dataset, data, periods: Periods, factor: int) -> dict:
    t = fine["time"].values

    def span(sl):
        return None if sl is None else [str(t[sl][0]), str(t[sl][-1])]

    return {
        "data": str(data),
        "data_synthetic": str(fine.attrs.get("synthetic", "unknown")),
        "train_period": span(periods.train),
        "val_period": span(periods.val),
        "heldout_period": span(periods.test),  # the test period
        "coarsen_factor": int(factor),
        "coarsen": "climviz.data.coarsen.coarsen (spherical-harmonic band limit, raised-cosine taper)",
    }


def train_taudiff(
    data,
    model_dir="models/taudiff",
    *,
    stage: str = "all",
    baseline_dir=None,
    factor: int = 4,
    holdout: float = 0.2,
    val_days: float | None = None,
    test_days: float | None = None,
    simvp_config: SimVPConfig | None = None,
    residual_unet: CAUUNetConfig | None = None,
    baseline_unet: CAUUNetConfig | None = None,
    settings: dict | LoopSettings | None = None,
    resume: bool = True,
    progress: Progress | None = None,
    device=None,
    crossfit: int = 0,
    fold: int | None = None,
    folds_dir=None,
    cau: str = DEFAULT_CAU,
    prev_residual: bool = False,
    prev_residual_drop: float = PREV_RESIDUAL_DROP,
) -> dict[str, Path]:
    """Train one stage (``mean``, ``folds``, ``residual``, ``baseline``) or ``all`` of them, in that order.

    ``settings`` is one :class:`LoopSettings` for every stage or a dict by stage
    (missing stages use :data:`DEFAULT_SETTINGS`). ``progress(done, total, metrics)``
    is passed to each loop. ``crossfit=K >= 2`` trains the residual stage on
    out-of-fold mean predictions from K fold models (``folds`` stage; ``fold=i``
    trains only fold ``i``, counted from 0, e.g. to run the folds in parallel);
    ``0`` trains it on the mean model's own fit.
    ``cau`` (:data:`~climviz.vocabulary.CAU_KINDS`) is the Channel Attention Unit of
    the default residual and baseline CAU-UNets; ``prev_residual`` conditions the
    default residual CAU-UNet on the previous step's residual (dropped to zeros with
    probability ``prev_residual_drop`` in training). ``residual_unet``/``baseline_unet``,
    when given, are used as they are.
    ``test_days`` (else the last ``holdout`` fraction) and ``val_days``: the test and validation
    periods at the end of the data (:func:`~climviz.pipelines.wind_data.split_periods`); with a
    validation period, a stage whose settings have ``eval_every > 0`` stops early on it (a
    ``prev_residual`` residual model validates with the true residual of the step before).
    Returns the checkpoint directory of each stage (or fold) trained.
    """
    if stage == "all":
        stages = tuple(s for s in STAGES if s != "folds" or crossfit)
    else:
        stages = (stage,)
    if any(s not in STAGES for s in stages):
        raise ValueError(f"stage must be one of {STAGES + ('all',)}, got {stage!r}")
    if crossfit == 1 or crossfit < 0 or ("folds" in stages and not crossfit):
        raise ValueError(
            f"crossfit must be 0 (off) or a number of folds >= 2, got {crossfit}"
            + (" (the folds stage needs one)" if crossfit == 0 else "")
        )
    if fold is not None and not 0 <= fold < max(crossfit, 1):
        raise ValueError(f"fold must be in [0, {crossfit - 1}], got {fold}")
    if isinstance(settings, LoopSettings):
        settings = {s: settings for s in STAGES}
    settings = {**DEFAULT_SETTINGS, **(settings or {})}
    device = torch.device(device) if device is not None else default_device()
    model_dir = Path(model_dir)
    baseline_dir = (
        Path(baseline_dir) if baseline_dir is not None else model_dir.with_name(model_dir.name + "-baseline")
    )
    folds_dir = Path(folds_dir) if folds_dir is not None else model_dir / "mean-folds"

    fine_ds, coarse_ds = make_pairs(open_winds(data).load(), factor)
    periods = split_wind_periods(fine_ds, val_days=val_days, test_days=test_days, holdout=holdout)
    train = periods.train
    if periods.val is None and any(settings[s].eval_every > 0 for s in stages):
        raise ValueError("eval_every (early stopping) needs a validation period: give val_days")
    fine, coarse = _arrays(fine_ds.isel(time=train)), _arrays(coarse_ds.isel(time=train))
    if periods.val is not None:
        fine_val, coarse_val = (
            _arrays(fine_ds.isel(time=periods.val)),
            _arrays(coarse_ds.isel(time=periods.val)),
        )
    grid = grid_dict(
        coarse_ds["lat"].values, coarse_ds["lon"].values, fine_ds["lat"].values, fine_ds["lon"].values
    )
    norm = _saved_normalization(
        wind_statistics(fine, fine_ds["lat"].values),
        [model_dir / "mean", model_dir / "residual", baseline_dir],
    )
    extra = _provenance(fine_ds, data, periods, factor)
    kw = dict(norm=norm, grid=grid, device=device, resume=resume, progress=progress)
    out: dict[str, Path] = {}

    def run(name, directory, fn, *args, key=None, more_config=None, val=None, **more):
        fn(
            *args,
            directory,
            settings[name],
            **kw,
            **more,
            val=val if settings[name].eval_every > 0 else None,
            extra_config={**extra, "settings": vars(settings[name]), **(more_config or {})},
        )
        out[key or name] = Path(directory)

    simvp = simvp_config or SimVPConfig(
        coarse_shape=coarse.shape[2:], factor=factor, coarse_lat=grid["coarse_lat"], fine_lat=grid["fine_lat"]
    )
    has_val = periods.val is not None
    if "mean" in stages:
        val = (coarse_val, fine_val) if has_val else None
        run("mean", model_dir / "mean", train_mean_model, coarse, fine, simvp, val=val)
    blocks = crossfit_blocks(coarse.shape[0], crossfit, simvp.frames) if crossfit else []
    if "folds" in stages:
        for i in range(crossfit) if fold is None else (fold,):
            run(
                "folds",
                fold_dir(folds_dir, i, crossfit),
                train_mean_model,
                coarse,
                fine,
                simvp,
                key=f"fold-{i + 1}",
                more_config={"fold": fold_info(fine_ds, train, blocks, i)},
                starts=fold_starts(coarse.shape[0], simvp.frames, blocks[i]),
                val=(coarse_val, fine_val) if has_val else None,
            )
    if "residual" in stages:
        if crossfit:
            mean = out_of_fold_means(
                folds_dir,
                coarse,
                norm,
                grid,
                device,
                [fold_info(fine_ds, train, blocks, i) for i in range(crossfit)],
                blocks,
            )
            targets = (
                f"out-of-fold: {crossfit} mean models, each trained without one of {crossfit} "
                f"contiguous blocks of the training period, predict the block they did not see"
            )
        else:
            mean = mean_predictions(model_dir / "mean", coarse, norm, grid, device)
            targets = "in-sample: the mean model's fit to its own training period"
        run(
            "residual",
            model_dir / "residual",
            train_residual_diffusion,
            coarse,
            fine,
            mean,
            residual_unet or residual_config(cau=cau, prev_residual=prev_residual),
            more_config={"residual_targets": targets},
            prev_residual_drop=prev_residual_drop,
            val=(
                (coarse_val, fine_val, mean_predictions(model_dir / "mean", coarse_val, norm, grid, device))
                if has_val and settings["residual"].eval_every > 0
                else None
            ),
        )
    if "baseline" in stages:
        val = (coarse_val, fine_val) if has_val else None
        run(
            "baseline",
            baseline_dir,
            train_baseline,
            coarse,
            fine,
            baseline_unet or baseline_config(cau=cau),
            val=val,
        )
    return out


def _saved_normalization(norm: dict, dirs, rtol: float = 1e-5) -> dict:
    """The normalisation of an existing checkpoint in ``dirs`` when it equals ``norm`` up to float
    rounding (the same data regenerated on another machine or thread count), else ``norm``: a
    resumed stage and the stages built on it then keep one normalisation exactly."""
    for d in dirs:
        try:
            saved = ckpt.load_config(d).get("normalization")
        except (ckpt.CheckpointError, OSError, ValueError):
            continue
        if (
            isinstance(saved, dict)
            and saved.get("variables") == norm["variables"]
            and np.allclose(saved["mean"], norm["mean"], rtol=rtol, atol=rtol * max(norm["std"]))
            and np.allclose(saved["std"], norm["std"], rtol=rtol)
        ):
            return saved
    return norm


def crossfit_blocks(n: int, k: int, frames: int) -> list[slice]:
    """``k`` contiguous blocks of ``n`` steps (the last takes the remainder), each ``>= frames``."""
    size = n // k
    if k < 2 or size < frames:
        raise ValueError(
            f"{n} training steps cannot make {k} folds of at least {frames} steps (one mean-model window)"
        )
    edges = [i * size for i in range(k)] + [n]
    return [slice(edges[i], edges[i + 1]) for i in range(k)]


def fold_starts(n: int, frames: int, block: slice) -> np.ndarray:
    """Starts of the windows of ``frames`` steps in ``0 .. n`` that do not touch ``block``."""
    s = np.arange(n - frames + 1)
    return s[(s + frames <= block.start) | (s >= block.stop)]


def fold_dir(folds_dir, i: int, k: int) -> Path:
    return Path(folds_dir) / f"fold-{i + 1}-of-{k}"


def fold_info(fine: xr.Dataset, train: slice, blocks: list[slice], i: int) -> dict:
    times = fine["time"].values[train][blocks[i]]
    return {"index": i, "of": len(blocks), "left_out": [str(times[0]), str(times[-1])]}


def out_of_fold_means(
    folds_dir, coarse: np.ndarray, norm: dict, grid: dict, device, infos: list[dict], blocks: list[slice]
) -> np.ndarray:
    """Each block's fine mean from the fold model trained without it (physical units)."""
    out = np.empty(
        (coarse.shape[0], coarse.shape[1], len(grid["fine_lat"]), len(grid["fine_lon"])), np.float32
    )
    for i, (info, block) in enumerate(zip(infos, blocks)):
        d = fold_dir(folds_dir, i, len(blocks))
        saved = _fold_config(d).get("fold")
        if saved != info:
            raise ValueError(
                f"{d} left out {saved and saved.get('left_out')}, not {info['left_out']}: "
                f"retrain the folds stage for this data and --crossfit {len(blocks)}"
            )
        out[block] = mean_predictions(d, coarse[block], norm, grid, device, stage="folds")
    return out


def _fold_config(directory) -> dict:
    try:
        return ckpt.load_config(directory)
    except (ckpt.CheckpointError, OSError) as err:
        raise ckpt.CheckpointError(f"{directory}: train the folds stage first ({err})") from err


def mean_predictions(
    mean_dir, coarse: np.ndarray, norm: dict, grid: dict, device, stage: str = "mean"
) -> np.ndarray:
    """The trained mean model's fine mean for every step of ``coarse`` (physical units)."""
    from climviz.nn.simvp import SimVP

    cfg = ckpt.load_config(mean_dir)
    if cfg.get("kind") != "taudiff-mean":
        raise ckpt.CheckpointError(f"{mean_dir}: train the {stage} stage first (no mean-model checkpoint)")
    if cfg["normalization"] != norm or cfg["grid"] != grid:
        raise ValueError(f"{mean_dir} was trained on other data (normalisation or grid differ)")
    model = ckpt.load_model(mean_dir, SimVP, SimVPConfig.from_dict(cfg["simvp"]), device).eval()
    x = normalize(torch.from_numpy(coarse).to(device), norm)
    return denormalize(predict_mean(model, x), norm).cpu().numpy()
