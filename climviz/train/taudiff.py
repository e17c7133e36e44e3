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
"""

from __future__ import annotations

import numpy as np
import torch

from climviz.data.grid import cell_area_weights
from climviz.diffusion.schedule import CosineSchedule
from climviz.nn.cau_unet import CAUUNet, CAUUNetConfig
from climviz.nn.simvp import SimVP, SimVPConfig
from climviz.nn.wind_fields import VARIABLES, make_upsample, normalize, per_variable
from climviz.train.common import LoopSettings, Progress, default_device, run_loop
from climviz.train.distributed import shard

# With ``prev_residual``, the chance that a training frame sees zeros instead of the true
# residual of the step before: what the first frame of a downscaled sequence (which has
# no predecessor) gets at sampling time, so that case is learnt too. Recorded in config.json.
PREV_RESIDUAL_DROP = 0.1


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
) -> SimVP:
    """Fit SimVP-TAU on random windows of ``cfg.frames`` consecutive steps.

    ``coarse [N, C, h, w]``, ``fine [N, C, H, W]`` in physical units; loss is
    the cos-lat weighted MSE of the normalised fine frames. ``starts``: the
    first steps a window may begin at (default all ``0 .. N - frames``), e.g.
    to leave out a block of time.
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
    return run_loop(model, loss_fn, out_dir, config, settings, resume=resume, progress=progress)


# ---------------------------------------------------------------- diffusion models
def _diffusion_loop(
    model,
    target_fn,
    cond_fn,
    n,
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
    """``prev_drop`` not None: the network also gets ``target_fn(idx - 1)`` (the clean target of the
    step before), replaced by zeros for step 0 and with probability ``prev_drop``."""
    schedule = CosineSchedule(num_train_steps)
    w_lat = _lat_weight(grid["fine_lat"], device)

    def loss_fn(step: int, gen: torch.Generator, net: torch.nn.Module):
        b = settings.batch_size  # the global batch: every rank draws all of it, keeps its rows
        idx = shard(torch.randint(0, n, (b,), generator=gen))
        x0, cond = target_fn(idx), cond_fn(idx)
        t = shard(torch.randint(0, num_train_steps, (b,), generator=gen)).to(device)
        eps = shard(torch.randn((b, *x0.shape[1:]), generator=gen)).to(device)
        xt = schedule.add_noise(x0, eps, t)
        prev = ()
        if prev_drop is not None:  # drawn after the others: the draws above stay those of a plain model
            keep = (shard(torch.rand(b, generator=gen)) >= prev_drop) & (idx > 0)
            before = target_fn((idx - 1).clamp(min=0))
            prev = (torch.where(keep.to(device)[:, None, None, None], before, torch.zeros_like(before)),)
        err = (net(xt, t, cond, *prev) - schedule.v_target(x0, eps, t)) ** 2
        return (err * w_lat).mean(), {}

    config = {**config, "schedule": schedule.config()}
    return run_loop(model, loss_fn, out_dir, config, settings, resume=resume, progress=progress)


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
) -> CAUUNet:
    """Fit the CAU-UNet denoiser on ``(fine - mean) / residual_std`` frame by frame.

    ``mean [N, C, H, W]`` is the mean model's prediction for the same steps
    (physical units; ``N`` consecutive steps). Conditioning: normalised mean and
    interpolated coarse input. With ``cfg.prev_residual`` the network also sees
    the true normalised residual of step ``n - 1``, replaced by zeros for step 0
    and with probability ``prev_residual_drop`` (recorded in ``config.json``).
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
    c_t = torch.from_numpy(np.ascontiguousarray(coarse, np.float32))
    f_t = torch.from_numpy(np.ascontiguousarray(fine, np.float32))
    m_t = torch.from_numpy(np.ascontiguousarray(mean, np.float32))
    rs = per_variable(res_std, device)

    def target(idx):
        return (f_t[idx].to(device) - m_t[idx].to(device)) / rs

    def cond(idx):
        return torch.cat(
            [normalize(m_t[idx].to(device), norm), up(normalize(c_t[idx].to(device), norm))], dim=1
        )

    config = {
        "kind": "taudiff-residual",
        "unet": cfg.to_dict(),
        "normalization": norm,
        "residual_std": res_std,
        "grid": grid,
        **({"prev_residual_drop": float(prev_residual_drop)} if cfg.prev_residual else {}),
        **(extra_config or {}),
    }
    return _diffusion_loop(
        model,
        target,
        cond,
        fine.shape[0],
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
) -> CAUUNet:
    """Fit the end-to-end baseline: diffusion on the normalised fine field given the coarse input."""
    _check_pairs(coarse, fine, grid)
    c = fine.shape[1]
    if (cfg.in_channels, cfg.cond_channels, cfg.out_channels) != (c, c, c):
        raise ValueError(f"baseline denoiser needs in/cond/out channels ({c}, {c}, {c})")
    if cfg.prev_residual:
        raise ValueError("the end-to-end baseline samples frames independently: prev_residual must be off")
    device = device or default_device()
    model = CAUUNet(cfg).to(device)
    up = make_upsample(grid).to(device)
    c_t = torch.from_numpy(np.ascontiguousarray(coarse, np.float32))
    f_t = torch.from_numpy(np.ascontiguousarray(fine, np.float32))

    def target(idx):
        return normalize(f_t[idx].to(device), norm)

    def cond(idx):
        return up(normalize(c_t[idx].to(device), norm))

    config = {
        "kind": "taudiff-baseline",
        "unet": cfg.to_dict(),
        "normalization": norm,
        "grid": grid,
        **(extra_config or {}),
    }
    return _diffusion_loop(
        model,
        target,
        cond,
        fine.shape[0],
        grid,
        out_dir,
        config,
        settings,
        num_train_steps,
        device,
        resume,
        progress,
    )
