"""Residual-dense UNet with Channel Attention Units: the TAUDiff residual denoiser
(arXiv 2412.13627, Sec. 3.2) and the end-to-end baseline.

One class, two uses:

- **TAUDiff residual model** (default config, ``base=32``): predicts ``v`` for the
  fine-scale residual ``x0 = (fine - mean) / residual_std`` (u, v), conditioned on
  the normalised mean field and the interpolated coarse input (4 channels,
  concatenated with ``x_t``).
- **End-to-end baseline** (:func:`baseline_config`, ``base=48``): predicts ``v``
  for the whole normalised fine field, conditioned on the interpolated coarse
  input only (2 channels). It is wider because it must also make the large
  scales the mean model gives TAUDiff for free.

Building blocks:

- residual dense block (RDB; Zhang et al. 2018, "Residual Dense Network"):
  ``L`` 3x3 convolutions, each seeing the concatenation of the block input and
  all earlier outputs (growth ``g``), a 1x1 local fusion back to ``C``, and a
  local residual;
- Channel Attention Unit (CAU) on the fused channels inside each RDB, one of
  :data:`~climviz.vocabulary.CAU_KINDS` (config ``cau``):

  - ``"se"`` (default; the shipped checkpoints): squeeze-excitation (Hu et al.
    2018), global average pool -> FC -> SiLU -> FC -> sigmoid, ``x * se``;
  - ``"tau"``: TAU's attention (Tan et al. 2023, Eq. 2-4) on one frame, the
    static large-kernel branch ``f_x`` of
    :class:`~climviz.nn.static_attention.StaticAttention` (depthwise 5x5 ->
    depthwise 7x7 dilated by 3 -> 1x1, 23x23 cells of reach) times the same
    squeeze-excitation, ``x * se * f_x``;
- the diffusion step enters each RDB by FiLM (adaptive GroupNorm scale/shift,
  zero-initialised, as in DiT's adaLN).

With ``prev_residual`` (config; default off) the network takes one more input,
``prev [B, C_out, H, W]``: the previous frame's clean sample (TAUDiff: the
normalised residual of frame ``t - 1``; zeros for a first frame), concatenated
with ``x_t`` and ``cond`` at the stem, as StormCast conditions on the previous
state. Frames are then sampled in time order, each frame's sample becoming the
next one's ``prev`` (:class:`climviz.pipelines.frame_diffusion.FrameDiffusion`), so
that the fine scales can stay coherent from frame to frame (the flicker ratio of
``climviz evaluate downscale`` measures whether they do).

All convolutions pad spherically (periodic longitude, across the poles).
Tensors: ``x [B, C, H, W]``, ``t [B]``, ``cond [B, Cc, H, W]`` (and ``prev [B, C_out, H, W]``)
-> ``v [B, C_out, H, W]``; ``H`` and ``W`` divisible by ``2**(len(mults) - 1)``.

Size of one denoiser evaluation on one 64 x 128 frame (the shipped grid; default
:func:`residual_config`; ``torch.utils.flop_counter``, 2 FLOPs per multiply-add of
convolutions and matrix products; ``python bench/bench_cau_unet.py --grid 64x128``):

    cau   prev_residual   parameters   GFLOP per frame
    se    off                462,866             1.862
    se    on                 463,442             1.871
    tau   off                505,938             2.064
    tau   on                 506,514             2.073

The ``"tau"`` CAU costs 9% more parameters and 11% more FLOPs; ``prev_residual``
adds 576 weights to the stem (0.5% of the FLOPs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from climviz.nn.checkpoint import config_from_dict
from climviz.nn.sphere import SphereConv2d
from climviz.nn.static_attention import StaticAttention
from climviz.nn.temporal_denoiser import timestep_embedding
from climviz.vocabulary import CAU_KINDS, DEFAULT_CAU


@dataclass
class CAUUNetConfig:
    in_channels: int = 2  # channels of x_t (u, v)
    cond_channels: int = 4  # conditioning channels (mean u, v + coarse u, v)
    out_channels: int = 2  # predicted v channels
    base: int = 32  # channels at full resolution
    mults: tuple[int, ...] = (1, 2, 2)  # channel multipliers per level (each level halves H, W)
    growth: int = 16  # RDB growth rate g
    dense_layers: int = 3  # 3x3 convolutions per RDB
    reduction: int = 4  # CAU squeeze ratio
    emb_dim: int = 128  # diffusion-step embedding width
    cau: str = DEFAULT_CAU  # Channel Attention Unit: "se" (squeeze-excitation) or "tau" (static x SE)
    prev_residual: bool = False  # one more input: the previous frame's sample (out_channels)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mults"] = list(self.mults)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CAUUNetConfig:
        """From a checkpoint's config, every value checked (:class:`~climviz.nn.checkpoint.CheckpointError`).

        ``cau`` and ``prev_residual`` may be missing (checkpoints written before
        they existed): ``"se"`` and off, the network those checkpoints were trained as.
        """
        return config_from_dict(
            cls,
            d,
            optional=("cau", "prev_residual"),
            limits={
                "in_channels": (1, 64),
                "cond_channels": (1, 256),
                "out_channels": (1, 64),
                "base": (1, 1024),
                "mults": (1, 16),
                "growth": (1, 512),
                "dense_layers": (1, 16),
                "reduction": (1, 256),
                "emb_dim": (2, 2048),
            },
        )

    def check(self) -> None:
        """Relations between fields that the network needs (``ValueError``)."""
        if not 1 <= len(self.mults) <= 8:
            raise ValueError(f"mults has {len(self.mults)} levels; 1 to 8 are possible")
        if self.cau not in CAU_KINDS:
            raise ValueError(f"cau must be one of {CAU_KINDS}, got {self.cau!r}")


def residual_config(channels: int = 2, **kw) -> CAUUNetConfig:
    """TAUDiff residual denoiser: conditioned on mean + coarse (``2 * channels``)."""
    return CAUUNetConfig(in_channels=channels, cond_channels=2 * channels, out_channels=channels, **kw)


def baseline_config(channels: int = 2, **kw) -> CAUUNetConfig:
    """End-to-end baseline: conditioned on the coarse input only, 1.5x wider by default."""
    kw.setdefault("base", 48)
    kw.setdefault("growth", 24)
    return CAUUNetConfig(in_channels=channels, cond_channels=channels, out_channels=channels, **kw)


class ChannelAttention(nn.Module):
    """CAU ``"se"``: ``x * sigmoid(FC(SiLU(FC(mean_hw x))))``, ``[B, C, H, W]``."""

    def __init__(self, ch: int, reduction: int = 4):
        super().__init__()
        hidden = max(ch // reduction, 4)
        self.fc = nn.Sequential(nn.Linear(ch, hidden), nn.SiLU(), nn.Linear(hidden, ch), nn.Sigmoid())

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The squeeze-excitation weights ``[B, C, 1, 1]`` in (0, 1)."""
        return self.fc(x.mean(dim=(-2, -1)))[..., None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class TAUChannelAttention(nn.Module):
    """CAU ``"tau"``: TAU's attention on one frame, ``x * se(x) * f_x(x)`` (Tan et al. 2023, Eq. 4),
    ``[B, C, H, W]``.

    ``f_x``: :class:`~climviz.nn.static_attention.StaticAttention` (spatial, large
    kernel, spherical padding); ``se``: the squeeze-excitation gate of
    :class:`ChannelAttention` (channels). One frame, so TAU's "dynamical" branch
    attends over channels, not time.
    """

    def __init__(self, ch: int, reduction: int = 4):
        super().__init__()
        self.static = StaticAttention(ch)
        self.se = ChannelAttention(ch, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se.gate(x) * self.static(x) * x


CAU_CLASSES = {"se": ChannelAttention, "tau": TAUChannelAttention}
assert set(CAU_CLASSES) == set(CAU_KINDS)


class ResidualDenseBlock(nn.Module):
    """FiLM(norm x) -> dense 3x3 layers -> 1x1 fusion -> CAU (``cau`` kind), plus ``x``. ``[B, C, H, W]``."""

    def __init__(
        self, ch: int, emb_dim: int, growth: int, layers: int, reduction: int, cau: str = DEFAULT_CAU
    ):
        super().__init__()
        self.norm = nn.GroupNorm(min(8, ch), ch, affine=False)
        self.film = nn.Linear(emb_dim, 2 * ch)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.convs = nn.ModuleList(SphereConv2d(ch + i * growth, growth, 3) for i in range(layers))
        self.fuse = nn.Conv2d(ch + layers * growth, ch, 1)
        self.cau = CAU_CLASSES[cau](ch, reduction)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(emb)[..., None, None].chunk(2, dim=1)
        c = x.shape[1]
        g = self.convs[0].out_channels
        # one buffer for the growing concatenation (no repeated torch.cat)
        feats = x.new_empty(x.shape[0], c + len(self.convs) * g, *x.shape[2:])
        feats[:, :c] = self.norm(x) * (1 + scale) + shift
        for i, conv in enumerate(self.convs):
            feats[:, c + i * g : c + (i + 1) * g] = F.silu(conv(feats[:, : c + i * g]))
        return x + self.cau(self.fuse(feats))


class CAUUNet(nn.Module):
    """UNet of residual dense blocks with channel attention (see module docstring)."""

    def __init__(self, cfg: CAUUNetConfig):
        super().__init__()
        self.cfg = cfg
        widths = [cfg.base * m for m in cfg.mults]
        e = cfg.emb_dim
        self.embed_t = nn.Sequential(nn.Linear(e, e), nn.SiLU(), nn.Linear(e, e))
        n_prev = cfg.out_channels if cfg.prev_residual else 0
        self.stem = SphereConv2d(cfg.in_channels + cfg.cond_channels + n_prev, widths[0], 3)
        blk = dict(
            emb_dim=e, growth=cfg.growth, layers=cfg.dense_layers, reduction=cfg.reduction, cau=cfg.cau
        )
        self.enc = nn.ModuleList(ResidualDenseBlock(w, **blk) for w in widths)
        self.down = nn.ModuleList(SphereConv2d(a, b, 3, stride=2) for a, b in zip(widths[:-1], widths[1:]))
        self.mid = ResidualDenseBlock(widths[-1], **blk)
        self.up = nn.ModuleList(SphereConv2d(b, a, 3) for a, b in zip(widths[:-1], widths[1:]))
        self.merge = nn.ModuleList(nn.Conv2d(2 * a, a, 1) for a in widths[:-1])
        self.dec = nn.ModuleList(ResidualDenseBlock(a, **blk) for a in widths[:-1])
        self.norm_out = nn.GroupNorm(min(8, widths[0]), widths[0])
        self.out = SphereConv2d(widths[0], cfg.out_channels, 3)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def levels(self) -> int:
        return len(self.cfg.mults)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, prev: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``v`` for ``x [B, C, H, W]`` at steps ``t [B]`` given ``cond [B, Cc, H, W]``.

        ``prev [B, C_out, H, W]``: the previous frame's sample, only for a
        ``prev_residual`` network (``None``: zeros, a frame with no predecessor).
        """
        div = 2 ** (self.levels - 1)
        if x.shape[-2] % div or x.shape[-1] % div:
            raise ValueError(f"grid {tuple(x.shape[-2:])} must be divisible by {div}")
        inputs = [x, cond]
        if self.cfg.prev_residual:
            want = (x.shape[0], self.cfg.out_channels, *x.shape[2:])
            if prev is None:
                prev = x.new_zeros(want)
            elif tuple(prev.shape) != want:
                raise ValueError(f"prev must be {list(want)}, got {list(prev.shape)}")
            inputs.append(prev)
        elif prev is not None:
            raise ValueError("this network was built without prev_residual; it takes no prev input")
        emb = self.embed_t(timestep_embedding(t, self.cfg.emb_dim))
        h = self.stem(torch.cat(inputs, dim=1))
        skips = []
        for i, block in enumerate(self.enc):
            h = block(h, emb)
            if i < len(self.down):
                skips.append(h)
                h = self.down[i](h)
        h = self.mid(h, emb)
        for i in reversed(range(len(self.up))):
            h = self.up[i](F.interpolate(h, scale_factor=2.0, mode="nearest"))
            h = self.dec[i](self.merge[i](torch.cat([h, skips[i]], dim=1)), emb)
        return self.out(F.silu(self.norm_out(h)))
