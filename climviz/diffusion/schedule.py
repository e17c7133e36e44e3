"""Discrete-time variance-preserving noise schedule and the v-prediction loss.

``x_t = alpha_t x_0 + sigma_t eps`` with ``alpha_t^2 + sigma_t^2 = 1`` (Ho et al.
2020, Eq. 4) and the cosine schedule of Nichol & Dhariwal (2021, Eq. 17).
The network predicts ``v = alpha_t eps - sigma_t x_0`` (Salimans & Ho 2022,
Sec. 4), which keeps one-step and few-step sampling well posed.
"""

from __future__ import annotations

import math

import torch


class CosineSchedule:
    """``alpha_bar(t) = cos^2((t/T + s) / (1 + s) * pi/2)``, ``t = 0..T-1`` (Nichol & Dhariwal Eq. 17)."""

    def __init__(self, num_train_steps: int = 1000, s: float = 0.008):
        self.num_train_steps = int(num_train_steps)  # T
        t = torch.arange(self.num_train_steps + 1, dtype=torch.float64) / self.num_train_steps
        f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = (f[1:] / f[0]).clamp(1e-8, 1.0)  # alpha_bar at step t = 1..T, indexed 0..T-1
        self.alpha_bar = alpha_bar  # float64 [T]

    def alpha_sigma(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``alpha_t, sigma_t`` (float64) for integer steps ``t`` (any shape)."""
        ab = self.alpha_bar.to(t.device)[t.long()]
        return ab.sqrt(), (1.0 - ab).sqrt()

    def add_noise(self, x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t = alpha_t x0 + sigma_t eps`` (Eq. 4); ``t`` is ``[B]``, broadcast over the rest."""
        a, s = self.alpha_sigma(t)
        shape = (-1,) + (1,) * (x0.dim() - 1)
        return a.view(shape).to(x0.dtype) * x0 + s.view(shape).to(x0.dtype) * eps

    def v_target(self, x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``v = alpha_t eps - sigma_t x0`` (Salimans & Ho 2022, Sec. 4)."""
        a, s = self.alpha_sigma(t)
        shape = (-1,) + (1,) * (x0.dim() - 1)
        return a.view(shape).to(x0.dtype) * eps - s.view(shape).to(x0.dtype) * x0

    def config(self) -> dict:
        return {"kind": "cosine", "num_train_steps": self.num_train_steps}


def diffusion_loss(
    model,
    x0: torch.Tensor,
    schedule: CosineSchedule,
    *,
    generator: torch.Generator | None = None,
    mask: torch.Tensor | None = None,
    **cond,
) -> torch.Tensor:
    """DDPM training loss with v-prediction: ``E ||model(x_t, t, **cond) - v||^2``.

    ``x0`` is ``[B, ...]``; ``mask`` (broadcastable to ``x0``) selects which
    elements count (e.g. only the frames to be generated, not the context).
    """
    b = x0.shape[0]
    t = torch.randint(0, schedule.num_train_steps, (b,), generator=generator, device=x0.device)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    xt = schedule.add_noise(x0, eps, t)
    err = (model(xt, t, **cond) - schedule.v_target(x0, eps, t)) ** 2
    if mask is None:
        return err.mean()
    mask = mask.expand_as(err).to(err.dtype)
    return (err * mask).sum() / mask.sum().clamp_min(1.0)
