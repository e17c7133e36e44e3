"""Train the residual latent diffusion model (arXiv 2407.02070, Sec. 3.2).

The target is the residual ``z_y = z_m - z_c`` between a target member ``m``
and a conditioning member ``c`` (both VAE posterior means), over windows of
``W`` consecutive months. Two modes share the network:

- ``transformer``: all ``W`` frames are denoised jointly;
- ``autoregressive``: the first ``W/2`` frames are clean context (the
  previously generated residual) in most batches, and only the rest is
  denoised; in the other batches there is no context, which is how the first
  chunk of a sequence is made;
- ``both``: one network for both ways of sampling: half of the batches carry
  clean context in their first half, half carry none.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from climviz.diffusion.residual_base import base_config, same_month_mean
from climviz.diffusion.schedule import CosineSchedule
from climviz.nn.denoisers import denoiser_class
from climviz.train.common import LoopSettings, Progress, default_device, run_loop
from climviz.train.distributed import global_sum, shard, world_size
from climviz.vocabulary import TRAIN_MODES

P_CONTEXT = {"transformer": 0.0, "autoregressive": 0.8, "both": 0.5}  # share of windows with context
LOWPASS_MONTHS = 12  # the low-frequency loss term compares 12-month running means


def lowpass_error(err: torch.Tensor, keep: torch.Tensor, months: int = LOWPASS_MONTHS) -> torch.Tensor:
    """Squared error of ``months``-month running means of ``err [B, T, ...]`` over the denoised frames.

    Summed over elements; the running means are taken over the error with the
    context frames (``keep [B, T]``) zeroed. The v-prediction loss plus any
    multiple of this term has the same minimiser (the conditional mean, as for
    any positive-definite quadratic loss), so the weight changes only what a
    finite network learns first: ENSO, a small share of the residual's variance
    but most of its variance at periods over a year.
    """
    b, t = err.shape[:2]
    k = min(months, t)
    e = (err * (~keep).to(err.dtype).view(b, t, *([1] * (err.ndim - 2)))).reshape(b, t, -1)
    return F.avg_pool1d(e.transpose(1, 2), k, stride=1).pow(2).sum()


def latent_statistics(
    latents: np.ndarray, *, pairs: int = 2000, seed: int = 0, base: np.ndarray | None = None
) -> dict:
    """Normalisation of ``latents [M, T, C, h, w]``: mean/std of ``z`` and std of residuals.

    ``z_mean`` is per element ``[C, h, w]``; ``z_std`` and ``res_std`` are per channel ``[C]``.
    The residuals are ``latents[a] - base[b]`` for members ``a != b`` (``base``: the
    members' residual bases, same shape; default the latents themselves).
    """
    m = latents.shape[0]
    if m < 2:
        raise ValueError("residual training needs at least two members")
    rng = np.random.default_rng(seed)
    z_mean = latents.mean(axis=(0, 1))
    z_std = latents.std(axis=(0, 1, 3, 4))
    a = rng.integers(0, m, pairs)
    b = (a + rng.integers(1, m, pairs)) % m
    t = rng.integers(0, latents.shape[1], pairs)
    res = latents[a, t] - (latents if base is None else base)[b, t]
    return {
        "z_mean": z_mean.astype(np.float32),
        "z_std": np.maximum(z_std, 1e-6).astype(np.float32),
        "res_std": np.maximum(res.std(axis=(0, 2, 3)), 1e-6).astype(np.float32),
    }


def make_batch(latents, months, years, stats, *, window, batch_size, mode, gen, p_context=None, base=None):
    """Draw a training batch of residual windows. Returns tensors on the CPU.

    ``latents [M, T, C, h, w]`` (raw posterior means), ``months [T]`` in 0..11,
    ``years [T]`` decimal years. ``batch_size`` windows are drawn; under
    torchrun each rank keeps its shard of ``B = batch_size / world`` of them.
    Returns ``x0 [B, W, C, h, w]`` (normalised residual ``z_t - base_c``; ``base``
    holds every member's residual base, default the latents themselves), ``cond``
    (normalised ``z_c``), ``month [B, W]``, ``year [B, W]``, ``context [B, W]`` (bool).
    """
    m, t_len = latents.shape[:2]
    tgt = torch.randint(0, m, (batch_size,), generator=gen).numpy()
    cnd = (tgt + torch.randint(1, m, (batch_size,), generator=gen).numpy()) % m
    start = torch.randint(0, t_len - window + 1, (batch_size,), generator=gen).numpy()
    use = np.zeros(batch_size, bool)
    p_context = P_CONTEXT[mode] if p_context is None else p_context
    if p_context > 0:
        use = torch.rand(batch_size, generator=gen).numpy() < p_context
    tgt, cnd, start, use = (shard(v) for v in (tgt, cnd, start, use))
    idx = start[:, None] + np.arange(window)[None]
    z_t = latents[tgt[:, None], idx]
    z_c = latents[cnd[:, None], idx]
    cs = (slice(None), slice(None), slice(None), None, None)
    b_c = z_c if base is None else base[cnd[:, None], idx]
    x0 = (z_t - b_c) / stats["res_std"][cs[2:]]
    cond = (z_c - stats["z_mean"]) / stats["z_std"][cs[2:]]
    context = np.zeros((len(tgt), window), bool)
    context[use, : window // 2] = True
    return (
        torch.from_numpy(x0.astype(np.float32)),
        torch.from_numpy(cond.astype(np.float32)),
        torch.from_numpy(months[idx].astype(np.int64)),
        torch.from_numpy(years[idx].astype(np.float32)),
        torch.from_numpy(context),
    )


def _start_from(model: torch.nn.Module, directory) -> None:
    """Load ``directory``'s weights into ``model``, which must then compute what the checkpoint did.

    A parameter the checkpoint lacks must be zero-initialised, or belong to a
    block that is new as a whole and is the identity at initialisation (its
    ``is_identity()`` says so: a residual block whose output layer is zero).
    """
    from pathlib import Path

    from safetensors.torch import load_file

    from climviz.nn import checkpoint as ckpt

    state = load_file(str(Path(directory) / ckpt.WEIGHTS))
    result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise ValueError(f"{directory}: weights the network does not have: {result.unexpected_keys[:3]}")
    params = dict(model.named_parameters())
    new_blocks = [
        name + "."
        for name, mod in model.named_modules()
        if name
        and hasattr(mod, "is_identity")
        and mod.is_identity()
        and not any(k.startswith(name + ".") for k in state)
    ]
    for key in result.missing_keys:
        if any(key.startswith(prefix) for prefix in new_blocks):
            continue
        if key in params and params[key].abs().sum() != 0:
            raise ValueError(
                f"{directory} lacks {key!r}, which is not zero-initialised: cannot start from it"
            )


def train_ldm(
    latents: np.ndarray,
    months: np.ndarray,
    years: np.ndarray,
    cfg,
    out_dir,
    settings: LoopSettings,
    *,
    mode: str = "transformer",
    num_train_steps: int = 1000,
    extra_config: dict | None = None,
    device: torch.device | None = None,
    resume: bool = True,
    progress: Progress | None = None,
    lowfreq_weight: float = 0.0,
    base_years: int = 0,
    init_from=None,
) -> torch.nn.Module:
    """Fit the denoiser that ``cfg`` configures (:mod:`climviz.nn.denoisers`) on residuals
    of ``latents [M, T, C, h, w]``.

    ``months [T]`` holds the calendar month (0..11) and ``years [T]`` the
    decimal year of each time step. ``lowfreq_weight`` adds that multiple of
    :func:`lowpass_error` to the loss (0: plain v-prediction MSE). ``base_years``: the residual is taken from the
    conditioning run's same-month mean over that many years either side
    (:mod:`climviz.diffusion.residual_base`; 0: from the run itself, as in the paper). ``init_from``:
    a denoiser checkpoint directory whose weights start the training (fine-tuning);
    parameters it lacks keep their initial values, which must be zeros, so that the
    network starts as the function it was.
    """
    if mode not in TRAIN_MODES:
        raise ValueError(f"mode must be one of {TRAIN_MODES}, got {mode!r}")
    if latents.shape[1] < cfg.window:
        raise ValueError(f"need at least {cfg.window} months of data, got {latents.shape[1]}")
    device = device or default_device()
    base = None
    if base_years:
        base = same_month_mean(torch.from_numpy(np.ascontiguousarray(latents)), base_years, dim=1).numpy()
    stats = latent_statistics(latents, seed=settings.seed, base=base)
    schedule = CosineSchedule(num_train_steps)
    model = denoiser_class(cfg)(cfg).to(device)
    if init_from is not None:
        _start_from(model, init_from)

    def loss_fn(step: int, gen: torch.Generator, net: torch.nn.Module):
        x0, cond, month, year, context = (
            v.to(device)
            for v in make_batch(
                latents,
                months,
                years,
                stats,
                window=cfg.window,
                batch_size=settings.batch_size,
                mode=mode,
                gen=gen,
                base=base,
            )
        )
        b = settings.batch_size  # the global batch: every rank draws all the noise, keeps its rows
        t = shard(torch.randint(0, num_train_steps, (b,), generator=gen)).to(device)
        eps = shard(torch.randn((b, *x0.shape[1:]), generator=gen)).to(device)
        xt = schedule.add_noise(x0, eps, t)
        keep = context[:, :, None, None, None]
        xt = torch.where(keep, x0, xt)  # context frames are given clean
        v = schedule.v_target(x0, eps, t)
        diff = net(xt, t, cond, month, year, context) - v
        err = diff**2
        weight = (~keep).to(err.dtype).expand_as(err)
        total = (err * weight).sum()
        if lowfreq_weight:
            total = total + lowfreq_weight * lowpass_error(diff, context)
        # mean over the denoised frames of the global batch; DDP averages over ranks, hence / world
        loss = total / (global_sum(weight.sum()) / world_size())
        return loss, {}

    config = {
        "kind": "ldm",
        "mode": mode,
        "denoiser": cfg.to_dict(),
        "schedule": schedule.config(),
        "latent_stats": {k: v.tolist() for k, v in stats.items()},
        "residual_base": base_config(base_years),
        "lowfreq_weight": float(lowfreq_weight),
        **({"init_from": str(init_from)} if init_from is not None else {}),
        **(extra_config or {}),
    }
    return run_loop(model, loss_fn, out_dir, config, settings, resume=resume, progress=progress)
