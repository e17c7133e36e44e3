"""Train the TAUDiff downscaler (arXiv 2412.13627) and its end-to-end baseline.

Three resumable loops (all through :func:`climviz.train.common.run_loop`):

- :func:`train_mean_model`: SimVP-TAU, windows of ``T`` coarse frames -> fine
  frames, MSE weighted by cos(latitude) (area weights), in normalised units;
- :func:`train_residual_diffusion`: the CAU-UNet denoiser (v-prediction, cosine
  schedule) on the residual ``(fine - mean) / residual_std``, conditioned on the
  normalised mean and the interpolated normalised coarse input, frame by frame
  (with ``prev_residual`` also on the true residual of the step before, see
  :data:`PREV_RESIDUAL_DROP`);
- :func:`train_baseline`: the same denoiser class on the whole normalised fine
  field, conditioned on the interpolated coarse input only.

Arrays come in physical units (m s-1), ``[N, C, ...]`` with ``N`` consecutive
time steps and ``C`` variables (u, v). Normalisation: one global mean and std
per variable (area weighted, from the fine training data), see
:func:`wind_statistics`; it is stored in every ``config.json``. The variables,
:func:`~climviz.nn.wind_fields.normalize` and the conditioning interpolation
are shared with inference and live in :mod:`climviz.nn.wind_fields`.

Early stopping: each function takes ``val``, the same arrays for a validation
period, and then (with ``settings.eval_every``) evaluates its loss on a fixed
set of validation windows or frames with fixed diffusion noise
(:func:`mean_validation`, :func:`diffusion_validation`), so the numbers of two
evaluations compare; :func:`~climviz.train.common.run_loop` keeps the best.
"""

from __future__ import annotations

import numpy as np
import torch

from climviz.data.grid import cell_area_weights
from climviz.diffusion.schedule import CosineSchedule
from climviz.nn.cau_unet import CAUUNet, CAUUNetConfig
from climviz.nn.simvp import SimVP, SimVPConfig
from climviz.nn.wind_fields import VARIABLES, make_upsample, normalize, per_variable
from climviz.train.common import LoopSettings, Progress, Validate, default_device, run_loop
from climviz.train.distributed import shard

# With ``prev_residual``, the chance that a training frame sees zeros instead of the true
# residual of the step before: what the first frame of a downscaled sequence (which has
# no predecessor) gets at sampling time, so that case is learnt too. Recorded in config.json.
PREV_RESIDUAL_DROP = 0.1
VAL_SAMPLES = 64  # validation windows (mean model) or frames (diffusion) per evaluation
VAL_SEED = 20_241_217  # the fixed diffusion times and noise of the validation loss


# ---------------------------------------------------------------- normalisation
def wind_statistics(fine: np.ndarray, lat: np.ndarray, variables=VARIABLES) -> dict:
    """Area-weighted mean and std per variable of ``fine [N, C, H, W]`` (``lat [H]`` degrees)."""
    w = cell_area_weights(lat)[None, :, None]
    mean, std = [], []
    for c in range(fine.shape[1]):
        x = fine[:, c].astype(np.float64)
        m = float((x * w).mean())
        mean.append(m)
        std.append(max(float(np.sqrt((((x - m) ** 2) * w).mean())), 1e-6))
    return {"variables": list(variables), "mean": mean, "std": std}


def residual_std(residual: np.ndarray, lat: np.ndarray) -> list[float]:
    """Area-weighted rms per variable of ``residual [N, C, H, W]`` (its mean is ~0 by construction)."""
    w = cell_area_weights(lat)[None, :, None]
    return [
        max(float(np.sqrt(((residual[:, c].astype(np.float64) ** 2) * w).mean())), 1e-6)
        for c in range(residual.shape[1])
    ]


def grid_dict(coarse_lat, coarse_lon, fine_lat, fine_lon) -> dict:
    """Grid description stored in ``config.json`` (plain lists of degrees)."""
    return {
        k: np.asarray(v, float).tolist()
        for k, v in dict(
            coarse_lat=coarse_lat, coarse_lon=coarse_lon, fine_lat=fine_lat, fine_lon=fine_lon
        ).items()
    }


def _lat_weight(lat, device) -> torch.Tensor:
    return torch.as_tensor(cell_area_weights(np.asarray(lat)), dtype=torch.float32, device=device)[:, None]


def _check_pairs(coarse: np.ndarray, fine: np.ndarray, grid: dict) -> None:
    if coarse.ndim != 4 or fine.ndim != 4 or coarse.shape[:2] != fine.shape[:2]:
        raise ValueError(
            f"need coarse [N, C, h, w] and fine [N, C, H, W] with equal N, C; "
            f"got {coarse.shape} and {fine.shape}"
        )
    if coarse.shape[2:] != (len(grid["coarse_lat"]), len(grid["coarse_lon"])):
        raise ValueError("coarse array does not match the coarse grid")
    if fine.shape[2:] != (len(grid["fine_lat"]), len(grid["fine_lon"])):
        raise ValueError("fine array does not match the fine grid")


# ---------------------------------------------------------------- validation
def even_picks(n: int, k: int) -> np.ndarray:
    """Up to ``k`` evenly spaced integers of ``0 .. n - 1``, first and last included (all when ``n <= k``)."""
    return np.unique(np.round(np.linspace(0, n - 1, min(n, k))).astype(np.int64))


def mean_validation(
    coarse: np.ndarray,
    fine: np.ndarray,
    frames: int,
    norm: dict,
    w_lat: torch.Tensor,
    device,
    samples: int = VAL_SAMPLES,
    batch: int = 8,
) -> Validate:
    """The mean model's training loss on up to ``samples`` evenly spaced windows of the validation
    arrays ``coarse [N, C, h, w]``, ``fine [N, C, H, W]`` (physical units)."""
    n = coarse.shape[0]
    if n < frames:
        raise ValueError(f"the validation period ({n} steps) is shorter than one window of {frames} steps")
    idx = torch.from_numpy(even_picks(n - frames + 1, samples))[:, None] + torch.arange(frames)[None]
    x = normalize(torch.from_numpy(np.ascontiguousarray(coarse, np.float32))[idx], norm)
    y = normalize(torch.from_numpy(np.ascontiguousarray(fine, np.float32))[idx], norm)

    @torch.no_grad()
    def validate(model: torch.nn.Module) -> float:
        total = 0.0
        for i in range(0, len(x), batch):
            err = (model(x[i : i + batch].to(device)) - y[i : i + batch].to(device)) ** 2
            total += float((err * w_lat).mean()) * len(err)
        return total / len(x)

    return validate


def diffusion_validation(
    x0: torch.Tensor,
    cond: torch.Tensor,
    schedule: CosineSchedule,
    w_lat: torch.Tensor,
    samples: int = VAL_SAMPLES,
    batch: int = 16,
    *,
    prev: torch.Tensor | None = None,
) -> Validate:
    """The v-prediction loss on up to ``samples`` evenly spaced frames of ``x0 [N, C, H, W]``
    (targets) with ``cond [N, Cc, H, W]``, each at a fixed diffusion step (stratified over
    ``0 .. T-1``) and fixed noise from :data:`VAL_SEED`. ``prev [N, C, H, W]``: the fixed
    previous-step input of a ``prev_residual`` network for each frame (None: no such input);
    it draws nothing, so the diffusion steps and noise are those of a plain model."""
    if prev is not None and prev.shape != x0.shape:
        raise ValueError(f"prev {tuple(prev.shape)} and x0 {tuple(x0.shape)} differ")
    idx = torch.from_numpy(even_picks(x0.shape[0], samples))
    x0, cond = x0[idx], cond[idx]
    prev = None if prev is None else prev[idx]
    gen = torch.Generator().manual_seed(VAL_SEED)
    m, steps = len(idx), schedule.num_train_steps
    t = ((torch.arange(m) + 0.5) * steps / m).long().clamp(max=steps - 1)[torch.randperm(m, generator=gen)]
    eps = torch.randn(x0.shape, generator=gen).to(x0.device)
    t = t.to(x0.device)
    xt, v = schedule.add_noise(x0, eps, t), schedule.v_target(x0, eps, t)

    @torch.no_grad()
    def validate(model: torch.nn.Module) -> float:
        total = 0.0
        for i in range(0, m, batch):
            sl = slice(i, i + batch)
            extra = () if prev is None else (prev[sl],)
            err = (model(xt[sl], t[sl], cond[sl], *extra) - v[sl]) ** 2
            total += float((err * w_lat).mean()) * len(err)
        return total / m

    return validate


# ---------------------------------------------------------------- mean model
def train_mean_model(
    coarse: np.ndarray,
    fine: np.ndarray,
    cfg: SimVPConfig,
    out_dir,
    settings: LoopSettings,
    *,
    norm: dict,
    grid: dict,
    extra_config: dict | None = None,
    device: torch.device | None = None,
    resume: bool = True,
    progress: Progress | None = None,
    starts: np.ndarray | None = None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
) -> SimVP:
    """Fit SimVP-TAU on random windows of ``cfg.frames`` consecutive steps.

    ``coarse [N, C, h, w]``, ``fine [N, C, H, W]`` in physical units; loss is
    the cos-lat weighted MSE of the normalised fine frames. ``starts``: the
    first steps a window may begin at (default all ``0 .. N - frames``), e.g.
    to leave out a block of time. ``val``: ``(coarse, fine)`` of a validation
    period, for early stopping (:func:`mean_validation`).
    """
    _check_pairs(coarse, fine, grid)
    n, t = coarse.shape[0], cfg.frames
    if n < t:
        raise ValueError(f"need at least {t} time steps to train the mean model, got {n}")
    valid = torch.arange(n - t + 1) if starts is None else torch.as_tensor(np.asarray(starts, np.int64))
    if valid.numel() == 0 or int(valid.min()) < 0 or int(valid.max()) > n - t:
        raise ValueError(f"window starts must lie in [0, {n - t}] (windows of {t} of {n} steps)")
    device = device or default_device()
    model = SimVP(cfg).to(device)
    w_lat = _lat_weight(grid["fine_lat"], device)
    c_t, f_t = (
        torch.from_numpy(np.ascontiguousarray(coarse, np.float32)),
        torch.from_numpy(np.ascontiguousarray(fine, np.float32)),
    )

    def loss_fn(step: int, gen: torch.Generator, net: torch.nn.Module):
        start = shard(valid[torch.randint(0, len(valid), (settings.batch_size,), generator=gen)])
        idx = start[:, None] + torch.arange(t)[None]
        x = normalize(c_t[idx].to(device), norm)
        y = normalize(f_t[idx].to(device), norm)
        err = (net(x) - y) ** 2
        return (err * w_lat).mean(), {}

    config = {
        "kind": "taudiff-mean",
        "simvp": cfg.to_dict(),
        "normalization": norm,
        "grid": grid,
        **(extra_config or {}),
    }
    validate = None
    if val is not None:
        _check_pairs(*val, grid)
        validate = mean_validation(*val, t, norm, w_lat, device)
    return run_loop(
        model, loss_fn, out_dir, config, settings, resume=resume, progress=progress, validate=validate
    )


# ---------------------------------------------------------------- diffusion models
def _diffusion_loop(
    model,
    target_fn,
    cond_fn,
    arrays,
    val_arrays,
    grid,
    out_dir,
    config,
    settings,
    num_train_steps,
    device,
    resume,
    progress,
    prev_drop: float | None = None,
):
    """``target_fn(arrays, idx)``, ``cond_fn(arrays, idx)``: targets and conditioning of the frames
    ``idx`` of ``arrays`` (a dict of ``[N, ...]`` tensors of consecutive steps); ``val_arrays`` the
    same for validation.

    ``prev_drop`` not None: the network also gets ``target_fn(arrays, idx - 1)`` (the clean target
    of the step before), replaced by zeros for step 0 and with probability ``prev_drop``. The
    validation loss then gives every validation frame the clean target of the step before in the
    validation period (zeros for its first step) and drops none, as when sampling in time order,
    so the numbers of two evaluations compare."""
    schedule = CosineSchedule(num_train_steps)
    w_lat = _lat_weight(grid["fine_lat"], device)
    n = len(next(iter(arrays.values())))

    def loss_fn(step: int, gen: torch.Generator, net: torch.nn.Module):
        b = settings.batch_size  # the global batch: every rank draws all of it, keeps its rows
        idx = shard(torch.randint(0, n, (b,), generator=gen))
        x0, cond = target_fn(arrays, idx), cond_fn(arrays, idx)
        t = shard(torch.randint(0, num_train_steps, (b,), generator=gen)).to(device)
        eps = shard(torch.randn((b, *x0.shape[1:]), generator=gen)).to(device)
        xt = schedule.add_noise(x0, eps, t)
        prev = ()
        if prev_drop is not None:  # drawn after the others: the draws above stay those of a plain model
            keep = (shard(torch.rand(b, generator=gen)) >= prev_drop) & (idx > 0)
            before = target_fn(arrays, (idx - 1).clamp(min=0))
            prev = (torch.where(keep.to(device)[:, None, None, None], before, torch.zeros_like(before)),)
        err = (net(xt, t, cond, *prev) - schedule.v_target(x0, eps, t)) ** 2
        return (err * w_lat).mean(), {}

    validate = None
    if val_arrays is not None:
        picks = torch.from_numpy(even_picks(len(next(iter(val_arrays.values()))), VAL_SAMPLES))
        x0, cond = target_fn(val_arrays, picks), cond_fn(val_arrays, picks)
        prev = None
        if prev_drop is not None:
            before = target_fn(val_arrays, (picks - 1).clamp(min=0))
            prev = torch.where((picks > 0).to(device)[:, None, None, None], before, torch.zeros_like(before))
        validate = diffusion_validation(x0, cond, schedule, w_lat, prev=prev)
    config = {**config, "schedule": schedule.config()}
    return run_loop(
        model, loss_fn, out_dir, config, settings, resume=resume, progress=progress, validate=validate
    )


def _tensors(**arrays) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v, np.float32)) for k, v in arrays.items()}


def train_residual_diffusion(
    coarse: np.ndarray,
    fine: np.ndarray,
    mean: np.ndarray,
    cfg: CAUUNetConfig,
    out_dir,
    settings: LoopSettings,
    *,
    norm: dict,
    grid: dict,
    num_train_steps: int = 1000,
    extra_config: dict | None = None,
    device: torch.device | None = None,
    resume: bool = True,
    progress: Progress | None = None,
    prev_residual_drop: float = PREV_RESIDUAL_DROP,
    val: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> CAUUNet:
    """Fit the CAU-UNet denoiser on ``(fine - mean) / residual_std`` frame by frame.

    ``mean [N, C, H, W]`` is the mean model's prediction for the same steps
    (physical units; ``N`` consecutive steps). Conditioning: normalised mean and
    interpolated coarse input. With ``cfg.prev_residual`` the network also sees
    the true normalised residual of step ``n - 1``, replaced by zeros for step 0
    and with probability ``prev_residual_drop`` (recorded in ``config.json``).
    ``val``: ``(coarse, fine, mean)`` of a validation period (consecutive steps),
    for early stopping (:func:`diffusion_validation`; ``residual_std`` stays the
    training period's; with ``prev_residual`` each validation frame gets the true
    residual of the validation step before, none dropped).
    """
    _check_pairs(coarse, fine, grid)
    if mean.shape != fine.shape:
        raise ValueError(f"mean {mean.shape} and fine {fine.shape} differ")
    c = fine.shape[1]
    if (cfg.in_channels, cfg.cond_channels, cfg.out_channels) != (c, 2 * c, c):
        raise ValueError(f"residual denoiser needs in/cond/out channels ({c}, {2 * c}, {c})")
    if cfg.prev_residual and not 0.0 <= prev_residual_drop <= 1.0:
        raise ValueError(f"prev_residual_drop must be a probability in [0, 1], got {prev_residual_drop}")
    device = device or default_device()
    res_std = residual_std(fine - mean, np.asarray(grid["fine_lat"]))
    model = CAUUNet(cfg).to(device)
    up = make_upsample(grid).to(device)
    rs = per_variable(res_std, device)

    def target(a, idx):
        return (a["fine"][idx].to(device) - a["mean"][idx].to(device)) / rs

    def cond(a, idx):
        m, x = a["mean"][idx].to(device), a["coarse"][idx].to(device)
        return torch.cat([normalize(m, norm), up(normalize(x, norm))], dim=1)

    config = {
        "kind": "taudiff-residual",
        "unet": cfg.to_dict(),
        "normalization": norm,
        "residual_std": res_std,
        "grid": grid,
        **({"prev_residual_drop": float(prev_residual_drop)} if cfg.prev_residual else {}),
        **(extra_config or {}),
    }
    if val is not None:
        _check_pairs(*val[:2], grid)
        if val[2].shape != val[1].shape:
            raise ValueError(f"validation mean {val[2].shape} and fine {val[1].shape} differ")
    return _diffusion_loop(
        model,
        target,
        cond,
        _tensors(coarse=coarse, fine=fine, mean=mean),
        None if val is None else _tensors(coarse=val[0], fine=val[1], mean=val[2]),
        grid,
        out_dir,
        config,
        settings,
        num_train_steps,
        device,
        resume,
        progress,
        prev_drop=float(prev_residual_drop) if cfg.prev_residual else None,
    )


def train_baseline(
    coarse: np.ndarray,
    fine: np.ndarray,
    cfg: CAUUNetConfig,
    out_dir,
    settings: LoopSettings,
    *,
    norm: dict,
    grid: dict,
    num_train_steps: int = 1000,
    extra_config: dict | None = None,
    device: torch.device | None = None,
    resume: bool = True,
    progress: Progress | None = None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
) -> CAUUNet:
    """Fit the end-to-end baseline: diffusion on the normalised fine field given the coarse input.

    ``val``: ``(coarse, fine)`` of a validation period, for early stopping.
    """
    _check_pairs(coarse, fine, grid)
    c = fine.shape[1]
    if (cfg.in_channels, cfg.cond_channels, cfg.out_channels) != (c, c, c):
        raise ValueError(f"baseline denoiser needs in/cond/out channels ({c}, {c}, {c})")
    if cfg.prev_residual:
        raise ValueError("the end-to-end baseline samples frames independently: prev_residual must be off")
    device = device or default_device()
    model = CAUUNet(cfg).to(device)
    up = make_upsample(grid).to(device)

    def target(a, idx):
        return normalize(a["fine"][idx].to(device), norm)

    def cond(a, idx):
        return up(normalize(a["coarse"][idx].to(device), norm))

    config = {
        "kind": "taudiff-baseline",
        "unet": cfg.to_dict(),
        "normalization": norm,
        "grid": grid,
        **(extra_config or {}),
    }
    if val is not None:
        _check_pairs(*val, grid)
    return _diffusion_loop(
        model,
        target,
        cond,
        _tensors(coarse=coarse, fine=fine),
        None if val is None else _tensors(coarse=val[0], fine=val[1]),
        grid,
        out_dir,
        config,
        settings,
        num_train_steps,
        device,
        resume,
        progress,
    )
