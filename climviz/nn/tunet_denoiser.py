"""Latent denoiser built from temporal convolutions at several time scales (``"tunet"``).

ENSO is a slow oscillation (3-7 year periods, lag-1 autocorrelation about 0.9
in monthly data) living in a few large-scale patterns; weather noise is
spatially correlated and nearly white from month to month. This network is
shaped after both:

- a **global path**: each month's latent frame ``[C, h, w]`` is projected
  linearly to a ``d_model``-wide vector (no squeeze of the pattern ENSO
  lives in: a linear map keeps it whole) and a 1-D U-Net runs along time:
  residual blocks of temporal convolutions at resolutions of 1, 2, 4, 8, ...
  months (``levels``), so a window of 120 months is seen whole at the
  coarsest level; its output is projected back to the frame;
- a **local path** per latent pixel, fed the noisy residual, the
  conditioning run and the global path's output there: depthwise temporal
  convolutions and per-pixel MLPs, for the small-scale part that one vector
  a month cannot carry; each cell has a learned vector and its own temporal
  filter (``local_position``), since persistence differs from place to place;
- the **conditioning run** has its own path (temporal convolutions over its
  tokens) that feeds every level of the U-Net through zero-initialised
  projections, so the network reads the run's forced state from the run
  itself; the calendar *year* is not an input (the ``year`` argument is
  accepted and ignored), so any period can be generated;
- the calendar month (ENSO is phase-locked to the seasons), the context flag
  (autoregressive mode) and the diffusion step enter every block (FiLM).

Cost per month and sample: about ``3 D d + 20 k d^2 + D c (c + 1)``
multiply-adds, with ``D`` the latent frame size, ``k`` the temporal kernel
and ``c`` the per-pixel width (exactly: :meth:`TemporalUNetDenoiser.flops_per_month`;
``bench/bench_ensemble.py`` counts the total for a request).

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

ARCHITECTURE = "tunet"


@dataclass
class TUNetConfig:
    latent_shape: tuple[int, int, int] = (4, 12, 24)  # (C, h, w) of one latent frame
    window: int = 120  # longest sequence (months) seen in training
    d_model: int = 192  # width of the global path
    levels: int = 4  # U-Net resolutions: 1, 2, ..., 2**(levels-1) months
    blocks: int = 1  # residual blocks per level and direction
    time_kernel: int = 3  # temporal kernel of the global path (steps at each level)
    local_channels: int = 16  # width of the per-pixel path
    local_kernel: int = 5  # temporal kernel of the per-pixel path (months)
    cond_kernel: int = 5  # temporal kernel of the conditioning path (months)
    local_blocks: int = 1  # blocks of the per-pixel path
    local_position: bool = True  # per-pixel path: a learned vector and temporal filter per latent cell
    local_spatial: int = 3  # per-pixel path: spatial kernel (latent cells) mixing neighbours; 0: none
    architecture: str = ARCHITECTURE  # tells checkpoints of this network apart

    def to_dict(self) -> dict:
        d = asdict(self)
        d["latent_shape"] = list(self.latent_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TUNetConfig:
        """From a checkpoint's config, every value checked (:class:`~climviz.nn.checkpoint.CheckpointError`)."""
        if not isinstance(d, dict) or d.get("architecture") != ARCHITECTURE:
            raise CheckpointError(f"{getattr(d, 'source', 'config')}: not a {ARCHITECTURE!r} denoiser config")
        if "local_spatial" not in d:  # written before the per-pixel path mixed neighbours
            d = {**d, "local_spatial": 0}
        return config_from_dict(
            cls,
            d,
            limits={
                "latent_shape": (1, 1024),
                "window": (1, 2400),
                "d_model": (1, 4096),
                "levels": (1, 8),
                "blocks": (1, 8),
                "time_kernel": (1, 63),
                "local_channels": (1, 512),
                "local_kernel": (1, 63),
                "cond_kernel": (1, 255),
                "local_blocks": (1, 8),
                "local_spatial": (0, 11),
            },
            optional=("local_position",),
        )

    def check(self) -> None:
        if self.architecture != ARCHITECTURE:
            raise ValueError(f"architecture must be {ARCHITECTURE!r}, got {self.architecture!r}")
        for name in ("time_kernel", "local_kernel", "cond_kernel"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} must be odd, got {getattr(self, name)}")
        if self.local_spatial and self.local_spatial % 2 == 0:
            raise ValueError(f"local_spatial must be odd or 0, got {self.local_spatial}")
        if self.d_model % 8:
            raise ValueError(f"d_model must be a multiple of 8 (GroupNorm), got {self.d_model}")

    @property
    def frame_size(self) -> int:
        c, h, w = self.latent_shape
        return c * h * w


class FiLMResBlock1d(nn.Module):
    """GroupNorm -> SiLU -> conv1d, FiLM from the step/month embedding, again, plus skip. ``[N, d, T]``."""

    def __init__(self, d_in: int, d: int, kernel: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, d_in)
        self.conv1 = nn.Conv1d(d_in, d, kernel, padding=kernel // 2)
        self.norm2 = nn.GroupNorm(8, d)
        self.conv2 = nn.Conv1d(d, d, kernel, padding=kernel // 2)
        self.film = nn.Linear(d, 2 * d)
        self.skip = nn.Conv1d(d_in, d, 1) if d_in != d else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """``h [N, d_in, T]``, ``emb [N, T, d]`` (per-month embedding at this resolution)."""
        a = self.conv1(F.silu(self.norm1(h)))
        scale, shift = self.film(emb).transpose(1, 2).chunk(2, dim=1)
        a = F.silu(self.norm2(a) * (1 + scale) + shift)
        return self.skip(h) + self.conv2(a)


class LocalBlock(nn.Module):
    """Per-pixel path, channels last ``[B, T, h, w, c]``: depthwise temporal (and spatial) conv,
    FiLM, pointwise MLP.

    The depthwise convolution is a weighted sum of shifted copies (``k`` of them),
    which on a CPU runs several times faster than ``conv1d`` on the permuted tensor.
    With ``grid = (h, w)`` each latent cell adds its own temporal filter to the
    shared one: month-to-month persistence differs from place to place (the
    equatorial east Pacific, where ENSO lives, is far smoother than the
    extratropics), and a filter shared by all cells gives every cell the same.

    With ``spatial = s > 0`` a depthwise ``s x s`` spatial filter (periodic in
    longitude, zero beyond the first and last latitude rows) is added too:
    without it a cell's denoised value depends on its neighbours only through the
    global path's ``d_model`` numbers a month, and generated members lack the
    spatial coherence of the truth beyond that rank, which a smooth decoder turns
    into missing spread.
    """

    def __init__(
        self, c: int, d_emb: int, kernel: int, grid: tuple[int, int] | None = None, spatial: int = 0
    ):
        super().__init__()
        self.kernel, self.spatial = kernel, spatial
        self.sweight = nn.Parameter(torch.zeros(spatial, spatial, c)) if spatial else None
        self.tweight = nn.Parameter(torch.zeros(kernel, c))
        self.tweight_cell = None if grid is None else nn.Parameter(torch.zeros(kernel, *grid, c))
        self.norm = nn.LayerNorm(c, elementwise_affine=False)
        self.film = nn.Linear(d_emb, 2 * c)
        self.mlp = nn.Sequential(nn.Linear(c, 2 * c), nn.SiLU(), nn.Linear(2 * c, c))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, u: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """``u [B, T, h, w, c]``, ``emb [B, T, d]``."""
        t, half = u.shape[1], self.kernel // 2
        padded = F.pad(u, (0, 0, 0, 0, 0, 0, half, half))
        w = (
            self.tweight[:, None, None]
            if self.tweight_cell is None
            else self.tweight[:, None, None] + self.tweight_cell
        )
        a = u + sum(padded[:, j : j + t] * w[j] for j in range(self.kernel))
        if self.sweight is not None:
            a = a + self._spatial(u)
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=-1)
        a = self.norm(a) * (1 + scale) + shift
        return u + self.mlp(a)

    def _spatial(self, u: torch.Tensor) -> torch.Tensor:
        """Depthwise ``s x s`` filter of ``u [B, T, h, w, c]``: zero-padded in latitude, periodic in longitude.

        Computed by a grouped ``conv2d`` on the channels-last view of ``u`` (no transpose copies)."""
        b, t, h, w, c = u.shape
        r = self.spatial // 2
        p = torch.cat([u[:, :, :, w - r :], u, u[:, :, :, :r]], 3) if r else u
        x = p.reshape(b * t, h, w + 2 * r, c).permute(0, 3, 1, 2)  # NCHW view, channels-last strides
        k = self.sweight.permute(2, 0, 1)[:, None]  # [c, 1, s, s]
        y = F.conv2d(x, k, padding=(r, 0), groups=c)
        return y.permute(0, 2, 3, 1).reshape(b, t, h, w, c)

    def is_identity(self) -> bool:
        """True while the block's output layer is zero: it then returns its input unchanged."""
        last = self.mlp[2]
        return bool((last.weight == 0).all() and (last.bias == 0).all())


class TemporalUNetDenoiser(nn.Module):
    """v-prediction network over a window of latent frames (see module docstring)."""

    def __init__(self, cfg: TUNetConfig):
        super().__init__()
        cfg.check()
        self.cfg = cfg
        d, big, k = cfg.d_model, cfg.frame_size, cfg.time_kernel
        c_lat = cfg.latent_shape[0]
        self.embed_x = nn.Linear(big, d)
        self.embed_cond = nn.Linear(big, d)
        self.embed_month = nn.Embedding(12, d)
        self.embed_context = nn.Embedding(2, d)
        self.embed_t = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        # conditioning path: temporal convolutions over the run's own tokens
        self.cond_blocks = nn.ModuleList(FiLMResBlock1d(d, d, cfg.cond_kernel) for _ in range(2))
        self.cond_to_level = nn.ModuleList(nn.Conv1d(d, d, 1) for _ in range(cfg.levels))
        for conv in self.cond_to_level:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.down = nn.ModuleList(
            nn.ModuleList(FiLMResBlock1d(d, d, k) for _ in range(cfg.blocks)) for _ in range(cfg.levels)
        )
        self.pool = nn.ModuleList(nn.Conv1d(d, d, 2, stride=2) for _ in range(cfg.levels - 1))
        self.mid = FiLMResBlock1d(d, d, k)
        self.up = nn.ModuleList(
            nn.ModuleList(FiLMResBlock1d(2 * d if i == 0 else d, d, k) for i in range(cfg.blocks))
            for _ in range(cfg.levels)
        )
        self.unpool = nn.ModuleList(nn.ConvTranspose1d(d, d, 2, stride=2) for _ in range(cfg.levels - 1))
        self.norm_out = nn.GroupNorm(8, d)
        self.head = nn.Linear(d, big)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        # per-pixel path
        lc = cfg.local_channels
        self.local_in = nn.Linear(3 * c_lat, lc)  # noisy residual, conditioning run, global output
        grid = tuple(cfg.latent_shape[1:]) if cfg.local_position else None
        self.local_pos = nn.Parameter(torch.zeros(*grid, lc)) if grid else None
        self.local = nn.ModuleList(
            LocalBlock(lc, d, cfg.local_kernel, grid, cfg.local_spatial) for _ in range(cfg.local_blocks)
        )
        self.local_out = nn.Linear(lc, c_lat)
        nn.init.zeros_(self.local_out.weight)
        nn.init.zeros_(self.local_out.bias)

    @property
    def multiple(self) -> int:
        """Sequences are padded to a multiple of this many months inside :meth:`forward`."""
        return 2 ** (self.cfg.levels - 1)

    def flops_per_month(self) -> float:
        """Floating-point operations (2 per multiply-add) of matmuls and convolutions in one
        forward pass, per month of one sample; elementwise work is not counted."""
        cfg = self.cfg
        d, big, k, lc, c = (
            cfg.d_model,
            cfg.frame_size,
            cfg.time_kernel,
            cfg.local_channels,
            cfg.latent_shape[0],
        )
        film = 2 * d * d
        down = cfg.blocks * (2 * k * d * d + film)
        up = (3 * k * d * d + 2 * d * d + film) + (cfg.blocks - 1) * (2 * k * d * d + film)
        macs = 3 * big * d  # frame projections in (noisy residual, conditioning run) and out
        macs += 2 * (2 * cfg.cond_kernel * d * d + film)  # conditioning path
        for lvl in range(cfg.levels):
            macs += (down + up + d * d) / 2**lvl  # blocks and the conditioning injection
            if lvl < cfg.levels - 1:
                macs += 2 * (2 * d * d) / 2 ** (lvl + 1)  # pooling and un-pooling
        macs += (2 * k * d * d + film) / 2 ** (cfg.levels - 1)  # the middle block
        pixels = big // c
        macs += pixels * (3 * c * lc + cfg.local_blocks * 4 * lc * lc + lc * c)  # per-pixel path
        macs += cfg.local_blocks * 2 * d * lc  # its FiLM
        macs += pixels * cfg.local_blocks * cfg.local_spatial**2 * lc  # its depthwise spatial filters
        return 2.0 * macs

    def forward(self, x, t, cond, month, year=None, context=None):
        b, n = x.shape[:2]
        if n > self.cfg.window:
            raise ValueError(f"sequence of {n} frames is longer than the model's window {self.cfg.window}")
        if context is None:
            context = torch.zeros(b, n, dtype=torch.long, device=x.device)
        pad = (-n) % self.multiple
        if pad:  # zero frames past the end, cropped from the output
            x, cond = (F.pad(v, (0, 0, 0, 0, 0, 0, 0, pad)) for v in (x, cond))
            month = torch.cat([month, (month[:, -1:] + torch.arange(1, pad + 1, device=x.device)) % 12], 1)
            context = F.pad(context.long(), (0, pad))
        n_all = n + pad
        emb = self.embed_t(timestep_embedding(t, self.cfg.d_model))[:, None]  # [B, 1, d]
        emb = emb + self.embed_month(month) + self.embed_context(context.long())  # [B, T, d]

        cond_tok = self.embed_cond(cond.reshape(b, n_all, -1)).transpose(1, 2)  # [B, d, T]
        for blk in self.cond_blocks:
            cond_tok = blk(cond_tok, emb)
        h = self.embed_x(x.reshape(b, n_all, -1)).transpose(1, 2)  # [B, d, T]

        skips, embs, c_lvl, e_lvl = [], [], cond_tok, emb
        for lvl in range(self.cfg.levels):
            h = h + self.cond_to_level[lvl](c_lvl)
            for blk in self.down[lvl]:
                h = blk(h, e_lvl)
            skips.append(h)
            embs.append(e_lvl)
            if lvl < self.cfg.levels - 1:
                h = self.pool[lvl](h)
                c_lvl = F.avg_pool1d(c_lvl, 2)
                e_lvl = F.avg_pool1d(e_lvl.transpose(1, 2), 2).transpose(1, 2)
        h = self.mid(h, e_lvl)
        for lvl in reversed(range(self.cfg.levels)):
            if lvl < self.cfg.levels - 1:
                h = self.unpool[lvl](h)
            e_lvl = embs[lvl]
            for i, blk in enumerate(self.up[lvl]):
                h = blk(torch.cat([h, skips[lvl]], 1) if i == 0 else h, e_lvl)
        out = self.head(F.silu(self.norm_out(h)).transpose(1, 2)).view(x.shape)

        u = self.local_in(torch.cat([x, cond, out], 2).permute(0, 1, 3, 4, 2))  # [B, T, h, w, c]
        if self.local_pos is not None:
            u = u + self.local_pos
        for blk in self.local:
            u = blk(u, emb)
        out = out + self.local_out(u).permute(0, 1, 4, 2, 3)
        return out[:, :n]
