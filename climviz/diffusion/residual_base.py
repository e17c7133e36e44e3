"""What a generated member is a residual from: the conditioning run itself, or its same-month mean.

The diffusion model learns ``z_target - base(z_cond)`` (arXiv 2407.02070 takes
``base = z_cond``). Month-to-month weather in two members is independent, so
with ``base = z_cond`` the residual carries the conditioning run's fast
variability *and* the target's, and a network that fits the residual's variance
instead of its variance given the conditioning run draws about twice the
target's month-to-month noise. A same-calendar-month mean over ``+-years``
years keeps the seasonal cycle, the trend and most of a volcanic dip, and
averages the conditioning run's fast noise down by ``2 years + 1``.
Tensors only.
"""

from __future__ import annotations

import torch

MONTHS_PER_YEAR = 12
CONDITIONING_RUN = "conditioning run"
SAME_MONTH_MEAN = "same-month mean"


def same_month_mean(z: torch.Tensor, years: int, dim: int = 0) -> torch.Tensor:
    """Mean of ``z`` along ``dim`` (monthly steps) over the same calendar month ``+-years`` years.

    ``out[t] = mean(z[t + 12 k] for k in -years..years, inside the record)``: near
    either end of the record fewer years are averaged. ``years = 0`` returns ``z``.
    """
    years = int(years)
    if years < 0:
        raise ValueError(f"years must be >= 0, got {years}")
    if years == 0:
        return z
    n = z.shape[dim]
    total = torch.zeros_like(z)
    count = torch.zeros(n, dtype=z.dtype, device=z.device)
    for k in range(-years, years + 1):
        lag = k * MONTHS_PER_YEAR
        lo, hi = max(0, -lag), min(n, n - lag)  # out[t] for t in lo..hi-1 reads z[t + lag]
        if hi <= lo:
            continue
        total.narrow(dim, lo, hi - lo).add_(z.narrow(dim, lo + lag, hi - lo))
        count[lo:hi] += 1
    shape = [1] * z.dim()
    shape[dim] = n
    return total / count.view(shape)


def residual_base(z_cond: torch.Tensor, config: dict | None, dim: int = 0) -> torch.Tensor:
    """The base a checkpoint's residual is taken from, by its ``residual_base`` config entry.

    ``None`` (checkpoints without the entry) or ``{"kind": "conditioning run"}``:
    ``z_cond`` itself; ``{"kind": "same-month mean", "years": K}``: :func:`same_month_mean`.
    """
    check_base_config(config)
    if (config or {}).get("kind", CONDITIONING_RUN) == CONDITIONING_RUN:
        return z_cond
    return same_month_mean(z_cond, config["years"], dim)


def check_base_config(config: dict | None) -> None:
    """Raise ``ValueError`` unless ``config`` is ``None`` or a ``residual_base`` entry this module knows."""
    if config is None:
        return
    if not isinstance(config, dict):
        raise ValueError(f"must be an object, got {config!r}")
    kind = config.get("kind", CONDITIONING_RUN)
    if kind == CONDITIONING_RUN:
        return
    if kind != SAME_MONTH_MEAN:
        raise ValueError(f"unknown kind {kind!r} (known: {CONDITIONING_RUN!r}, {SAME_MONTH_MEAN!r})")
    years = config.get("years")
    if isinstance(years, bool) or not isinstance(years, int) or years < 1:
        raise ValueError(f"years of a {SAME_MONTH_MEAN!r} must be an integer >= 1, got {years!r}")


def base_config(years: int) -> dict:
    """The ``residual_base`` config entry of a model trained with ``years`` (0: the run itself)."""
    if int(years) < 0:
        raise ValueError(f"the residual base's years must be >= 0, got {years}")
    return {"kind": SAME_MONTH_MEAN, "years": int(years)} if years else {"kind": CONDITIONING_RUN}
