"""Latent denoiser with factorised space-time attention over long windows (ENSO-scale context).

The residual ``z_y = z - z_c`` of arXiv 2407.02070 carries internal
variability: ENSO, whose cycles last 3-7 years, and weather noise. This
network sees windows of ``window`` months (120 by default, several ENSO
cycles) and keeps the latent's spatial detail:

- each latent frame ``[C, h, w]`` is cut into ``p x p`` patches, one token
  each (``(h/p) (w/p)`` tokens a month, ``C p^2`` numbers a token, no squeeze);
- a block is *temporal* attention per patch along the window, with a learned
  relative time bias per head (Shaw et al. 2018; T5) and a depthwise temporal
  convolution before it, then *spatial* attention per month across patches,
  then an MLP; all three modulated by the diffusion step (adaLN, DiT);
- the conditioning run has its own path: patch embedding, depthwise temporal
  convolutions (so it sees its own low-frequency, forced state), an MLP,
  injected into every block through a zero-initialised projection;
- the calendar month is embedded (ENSO is phase-locked to the seasons); the
  calendar *year* is not used, so nothing ties the model to the training
  period (the ``year`` argument is accepted and ignored).

Cost per token and block is about ``12 d^2 + 2 T d`` multiply-adds
(``bench/bench_ensemble.py`` counts the total for a request).

Inputs as :class:`climviz.nn.temporal_denoiser.TemporalDenoiser`:
``x, cond [B, T, C, h, w]``, ``t [B]``, ``month [B, T]`` (0..11),
``year [B, T]`` (ignored), ``context [B, T]`` bool. Output: ``v`` ``[B, T, C, h, w]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from climviz.nn.checkpoint import CheckpointError, config_from_dict
from climviz.nn.temporal_denoiser import timestep_embedding

ARCHITECTURE = "spacetime"


@dataclass
class SpaceTimeConfig:
    latent_shape: tuple[int, int, int] = (4, 12, 24)  # (C, h, w) of one latent frame
    window: int = 120  # longest sequence (months); relative bias spans +-window
    patch: int = 4  # spatial patch size in latent pixels
    d_model: int = 96  # token width
    n_layers: int = 4  # blocks (temporal attn, spatial attn, MLP)
    n_heads: int = 4  # attention heads
    mlp_ratio: float = 3.0  # MLP width / d_model
    time_kernel: int = 5  # depthwise temporal convolution in each block (months)
    cond_kernel: int = 13  # depthwise temporal convolutions of the conditioning path
    architecture: str = ARCHITECTURE  # tells checkpoints of this network apart

    def to_dict(self) -> dict:
        d = asdict(self)
        d["latent_shape"] = list(self.latent_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SpaceTimeConfig:
        """From a checkpoint's config, every value checked (:class:`~climviz.nn.checkpoint.CheckpointError`)."""
        if not isinstance(d, dict) or d.get("architecture") != ARCHITECTURE:
            raise CheckpointError(f"{getattr(d, 'source', 'config')}: not a {ARCHITECTURE!r} denoiser config")
        return config_from_dict(
            cls,
            d,
            limits={
                "latent_shape": (1, 1024),
                "window": (1, 2400),
                "patch": (1, 64),
                "d_model": (1, 4096),
                "n_layers": (1, 64),
                "n_heads": (1, 256),
                "mlp_ratio": (0.1, 16.0),
                "time_kernel": (1, 63),
                "cond_kernel": (1, 255),
            },
        )

    def check(self) -> None:
        c, h, w = self.latent_shape
        if self.architecture != ARCHITECTURE:
            raise ValueError(f"architecture must be {ARCHITECTURE!r}, got {self.architecture!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if h % self.patch or w % self.patch:
            raise ValueError(f"the latent {h}x{w} is not divisible by the patch size {self.patch}")
        if self.time_kernel % 2 == 0 or self.cond_kernel % 2 == 0:
            raise ValueError("time_kernel and cond_kernel must be odd")

    @property
    def n_patches(self) -> int:
        _, h, w = self.latent_shape
        return (h // self.patch) * (w // self.patch)


class TemporalConv(nn.Module):
    """Depthwise convolution along time of tokens ``[B, T, P, d]`` (zero padding: no wrap in time)."""

    def __init__(self, d: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(d, d, kernel, padding=kernel // 2, groups=d)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, p, d = h.shape
        y = self.conv(h.permute(0, 2, 3, 1).reshape(b * p, d, t))
        return y.view(b, p, d, t).permute(0, 3, 1, 2)


class Attention(nn.Module):
    """Multi-head self-attention over the second-to-last axis of ``[N, L, d]``, optional additive bias."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, h: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        n, length, d = h.shape
        q, k, v = self.qkv(h).view(n, length, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # bias [heads, L, L] broadcasts
        return self.out(y.transpose(1, 2).reshape(n, length, d))


class SpaceTimeBlock(nn.Module):
    """Temporal conv + attention per patch, spatial attention per month, MLP; adaLN-modulated."""

    def __init__(self, cfg: SpaceTimeConfig):
        super().__init__()
        d, heads = cfg.d_model, cfg.n_heads
        self.norms = nn.ModuleList(nn.LayerNorm(d, elementwise_affine=False) for _ in range(3))
        self.tconv = TemporalConv(d, cfg.time_kernel)
        self.tattn = Attention(d, heads)
        self.sattn = Attention(d, heads)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))
        self.ada = nn.Linear(d, 9 * d)  # shift, scale, gate for each of the three sub-layers
        self.cond_in = nn.Linear(d, d)  # the conditioning path's features, added to the stream
        for lin in (self.ada, self.cond_in):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, h, emb, cond_feat, time_bias):
        b, t, p, d = h.shape
        mod = self.ada(emb)[:, None, None].chunk(9, dim=-1)  # each [B, 1, 1, d]
        h = h + self.cond_in(cond_feat)

        a = self.norms[0](h) * (1 + mod[1]) + mod[0]
        a = a + self.tconv(a)
        a = a.permute(0, 2, 1, 3).reshape(b * p, t, d)  # sequences along time
        a = self.tattn(a, time_bias).view(b, p, t, d).permute(0, 2, 1, 3)
        h = h + mod[2] * a

        a = self.norms[1](h) * (1 + mod[4]) + mod[3]
        a = self.sattn(a.reshape(b * t, p, d)).view(b, t, p, d)  # across patches, per month
        h = h + mod[5] * a

        a = self.norms[2](h) * (1 + mod[7]) + mod[6]
        return h + mod[8] * self.mlp(a)


class SpaceTimeDenoiser(nn.Module):
    """v-prediction network over a window of latent frames (see module docstring)."""

    def __init__(self, cfg: SpaceTimeConfig):
        super().__init__()
        cfg.check()
        self.cfg = cfg
        c, _, _ = cfg.latent_shape
        d, pdim = cfg.d_model, c * cfg.patch**2
        self.embed_x = nn.Linear(pdim, d)
        self.embed_cond = nn.Linear(pdim, d)
        self.pos = nn.Parameter(torch.zeros(1, 1, cfg.n_patches, d))
        nn.init.normal_(self.pos, std=0.02)
        self.embed_month = nn.Embedding(12, d)
        self.embed_context = nn.Embedding(2, d)
        self.embed_t = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.cond_path = nn.ModuleList([TemporalConv(d, cfg.cond_kernel), TemporalConv(d, cfg.cond_kernel)])
        self.cond_mlp = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.blocks = nn.ModuleList(SpaceTimeBlock(cfg) for _ in range(cfg.n_layers))
        # relative time bias: one learned value per head and lag -(window-1) .. window-1
        self.rel_bias = nn.Parameter(torch.zeros(cfg.n_heads, 2 * cfg.window - 1))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False)
        self.head = nn.Linear(d, pdim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    # ------------------------------------------------------------ patches
    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, C, h, w]`` -> ``[B, T, P, C p p]``."""
        b, t, c, h, w = x.shape
        p = self.cfg.patch
        x = x.view(b, t, c, h // p, p, w // p, p).permute(0, 1, 3, 5, 2, 4, 6)
        return x.reshape(b, t, (h // p) * (w // p), c * p * p)

    def unpatchify(self, y: torch.Tensor) -> torch.Tensor:
        """``[B, T, P, C p p]`` -> ``[B, T, C, h, w]``."""
        c, h, w = self.cfg.latent_shape
        p = self.cfg.patch
        b, t = y.shape[:2]
        y = y.view(b, t, h // p, w // p, c, p, p).permute(0, 1, 4, 2, 5, 3, 6)
        return y.reshape(b, t, c, h, w)

    def time_bias(self, n: int) -> torch.Tensor:
        """Additive attention bias ``[heads, n, n]`` from the lag ``j - i`` between months."""
        idx = torch.arange(n, device=self.rel_bias.device)
        lag = idx[None, :] - idx[:, None] + self.cfg.window - 1
        return self.rel_bias[:, lag]

    def forward(self, x, t, cond, month, year=None, context=None):
        b, n = x.shape[:2]
        if n > self.cfg.window:
            raise ValueError(f"sequence of {n} frames is longer than the model's window {self.cfg.window}")
        if context is None:
            context = torch.zeros(b, n, dtype=torch.long, device=x.device)
        emb = self.embed_t(timestep_embedding(t, self.cfg.d_model))  # [B, d]
        frame = (self.embed_month(month) + self.embed_context(context.long()))[:, :, None]  # [B, T, 1, d]
        h = self.embed_x(self.patchify(x)) + self.pos + frame
        c = self.embed_cond(self.patchify(cond)) + self.pos + frame
        for conv in self.cond_path:
            c = c + conv(F.gelu(c))
        c = c + self.cond_mlp(c)
        bias = self.time_bias(n)
        for blk in self.blocks:
            h = blk(h, emb, c, bias)
        return self.unpatchify(self.head(self.norm_out(h)))
