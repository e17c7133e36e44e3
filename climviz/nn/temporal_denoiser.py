"""The ``temporal`` latent denoiser (the shipped generator's; :mod:`climviz.nn.denoisers`).

Each month's latent frame ``[C, h, w]`` becomes one token, so attention runs
along time only and costs ``O(T^2 d)`` per sequence rather than
``O((T h w)^2 d)`` for full space-time attention (the ``spacetime``
architecture, :mod:`climviz.nn.spacetime_denoiser`, factorises it instead).
Spatial structure is carried by the frame embedding, by a per-position
channel-mixing path, and by the VAE decoder.

Inputs, all per frame of a window of ``T`` months:

- ``x``    ``[B, T, C, h, w]`` noisy residual latents ``z_y = z - z_c`` (normalised);
- ``t``    ``[B]`` diffusion steps;
- ``cond`` ``[B, T, C, h, w]`` conditioning latents ``z_c`` (normalised);
- ``month`` ``[B, T]`` calendar month 0..11;
- ``year`` ``[B, T]`` decimal year: the forced state of the training ensemble
  is a function of the date, so knowing it lets the network tell the
  conditioning run's internal variability (which the residual must replace)
  from its forced response (which it must keep);
- ``context`` ``[B, T]`` bool, True where the frame is a known (clean) residual
  frame given as context (autoregressive mode); its value is taken from ``x``.

Output: ``v`` prediction ``[B, T, C, h, w]``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from climviz.nn.checkpoint import config_from_dict


@dataclass
class DenoiserConfig:
    latent_shape: tuple[int, int, int] = (4, 12, 24)  # (C, h, w) of one latent frame
    window: int = 24  # longest sequence seen in training (months)
    d_model: int = 256  # token width
    n_layers: int = 4  # transformer blocks
    n_heads: int = 4  # attention heads
    mlp_ratio: float = 4.0  # MLP width / d_model
    local_hidden: int = 32  # channels of the per-position path
    years: tuple[float, float] = (1850.0, 2006.0)  # span of the training data (decimal years)
    year_features: int = 6  # Fourier features of the scaled year

    def to_dict(self) -> dict:
        d = asdict(self)
        d["latent_shape"] = list(self.latent_shape)
        d["years"] = list(self.years)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DenoiserConfig:
        """From a checkpoint's config, every value checked (:class:`~climviz.nn.checkpoint.CheckpointError`).

        ``years`` may be missing (checkpoints written before it existed).
        """
        return config_from_dict(
            cls,
            d,
            optional=("years",),
            limits={
                "latent_shape": (1, 1024),
                "window": (1, 1200),
                "d_model": (1, 4096),
                "n_layers": (1, 64),
                "n_heads": (1, 256),
                "mlp_ratio": (0.1, 16.0),
                "local_hidden": (1, 1024),
                "years": (-10000.0, 10000.0),
                "year_features": (0, 64),
            },
        )

    def check(self) -> None:
        """Relations between fields that the network needs (``ValueError``)."""
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if not self.years[0] < self.years[1]:
            raise ValueError(f"years {list(self.years)} must be (first, last) with first < last")


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of diffusion steps ``t [B]`` -> ``[B, dim]`` (Vaswani et al. 2017)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Block(nn.Module):
    """Pre-norm transformer block with adaptive LayerNorm from the step embedding (DiT, adaLN)."""

    def __init__(self, d: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False)
        self.mlp = nn.Sequential(
            nn.Linear(d, int(d * mlp_ratio)), nn.GELU(), nn.Linear(int(d * mlp_ratio), d)
        )
        self.ada = nn.Linear(d, 4 * d)  # scale/shift for both norms
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        s1, b1, s2, b2 = self.ada(emb)[:, None].chunk(4, dim=-1)
        a = self.norm1(h) * (1 + s1) + b1
        h = h + self.attn(a, a, a, need_weights=False)[0]
        return h + self.mlp(self.norm2(h) * (1 + s2) + b2)


class TemporalDenoiser(nn.Module):
    """v-prediction network over a window of latent frames (see module docstring)."""

    def __init__(self, cfg: DenoiserConfig):
        super().__init__()
        self.cfg = cfg
        c, h, w = cfg.latent_shape
        flat, d = c * h * w, cfg.d_model
        self.embed_in = nn.Linear(2 * flat, d)
        self.embed_month = nn.Embedding(12, d)
        self.embed_context = nn.Embedding(2, d)
        self.embed_year = nn.Linear(1 + 2 * cfg.year_features, d)
        self.pos = nn.Parameter(torch.zeros(1, cfg.window, d))
        self.embed_t = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(Block(d, cfg.n_heads, cfg.mlp_ratio) for _ in range(cfg.n_layers))
        self.norm_out = nn.LayerNorm(d)
        self.head = nn.Linear(d, flat)
        # per-position path: channel mixing of (x, cond) at each latent grid point
        self.local = nn.Sequential(
            nn.Conv2d(2 * c, cfg.local_hidden, 1), nn.SiLU(), nn.Conv2d(cfg.local_hidden, c, 1)
        )
        self.local_gate = nn.Linear(d, c)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def year_features(self, year: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` decimal years -> ``[B, T, 1 + 2K]``: u and sin/cos(pi k u), u in [0, 1] on the training span."""
        y0, y1 = self.cfg.years
        u = ((year.float() - y0) / (y1 - y0))[..., None]
        k = torch.arange(1, self.cfg.year_features + 1, device=year.device, dtype=u.dtype) * torch.pi
        return torch.cat([u, torch.sin(k * u), torch.cos(k * u)], dim=-1)

    def forward(self, x, t, cond, month, year, context=None):
        b, n, c, h, w = x.shape
        if n > self.cfg.window:
            raise ValueError(f"sequence of {n} frames is longer than the model's window {self.cfg.window}")
        if context is None:
            context = torch.zeros(b, n, dtype=torch.long, device=x.device)
        xc = torch.cat([x, cond], dim=2)  # [B, T, 2C, h, w]
        tok = self.embed_in(xc.flatten(2))  # [B, T, d]
        tok = tok + self.embed_month(month) + self.embed_context(context.long()) + self.pos[:, :n]
        tok = tok + self.embed_year(self.year_features(year))
        emb = self.embed_t(timestep_embedding(t, self.cfg.d_model))  # [B, d]
        tok = tok + emb[:, None]
        for blk in self.blocks:
            tok = blk(tok, emb)
        out = self.head(self.norm_out(tok)).view(b, n, c, h, w)
        gate = self.local_gate(emb)[:, None, :, None, None]  # [B, 1, C, 1, 1]
        local = self.local(xc.flatten(0, 1)).view(b, n, c, h, w)
        return out + gate * local
