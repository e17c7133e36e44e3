"""SimVP with Temporal Attention Units: the TAUDiff mean model (arXiv 2412.13627, Sec. 3.1).

SimVP (Gao et al. 2022; Tan et al. 2023, "TAU", arXiv 2206.12126) is an
encoder -> translator -> decoder video model. Here it maps ``T`` coarse wind
frames to ``T`` fine *mean* frames:

1. the coarse frames are interpolated to the fine grid (:class:`LatLonUpsample`:
   linear in latitude, periodic linear in longitude);
2. the encoder (3x3 spherical convolutions, ``n_s`` of them with stride 2)
   works on each frame;
3. the translator folds time into channels, ``[B, T*C', h, w]``, and applies
   ``n_t`` TAU blocks;
4. the decoder upsamples back (nearest x2 + convolution), joins the
   full-resolution encoder features (SimVP's skip) and reads out a
   *correction* that is added to the interpolated input.

Every layer pads spherically (:func:`spherical_pad`: periodic longitude), so the
network commutes with a longitude roll by a multiple of ``2**n_s`` fine cells
(one coarse cell = ``factor`` fine cells, with ``factor == 2**n_s`` by default).

Tensors only: ``x [B, T, C, h, w]`` (normalised coarse) -> ``[B, T, C, H, W]``
(normalised fine mean).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from climviz.latlon import gaussian_latitudes
from climviz.nn.checkpoint import config_from_dict
from climviz.nn.sphere import SphereConv2d
from climviz.nn.static_attention import StaticAttention


# ---------------------------------------------------------------- grid helpers
def _lat_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Linear interpolation ``[len(dst), len(src)]`` in latitude (constant beyond the end rows)."""
    eye = np.eye(len(src))
    return np.stack([np.interp(dst, src, eye[k]) for k in range(len(src))], axis=1)


def _lon_matrix(n_src: int, n_dst: int) -> np.ndarray:
    """Periodic linear interpolation ``[n_dst, n_src]`` between regular grids starting at 0 deg."""
    pos = np.arange(n_dst) * (n_src / n_dst)
    i0 = np.floor(pos).astype(int)
    frac = pos - i0
    m = np.zeros((n_dst, n_src))
    m[np.arange(n_dst), i0 % n_src] += 1.0 - frac
    m[np.arange(n_dst), (i0 + 1) % n_src] += frac
    return m


class LatLonUpsample(nn.Module):
    """Bilinear interpolation from one global lat/lon grid to another: ``[..., h, w] -> [..., H, W]``.

    Latitudes are given (ascending, degrees; Gaussian by default); longitudes
    are regular from 0 deg, so a roll by ``k`` coarse cells becomes a roll by
    ``k * W / w`` fine cells exactly. The matrices are buffers that are not
    saved (they follow from the config).
    """

    def __init__(self, src_lat, dst_lat, n_src_lon: int, n_dst_lon: int):
        super().__init__()
        a_lat = _lat_matrix(np.asarray(src_lat, float), np.asarray(dst_lat, float))
        a_lon = _lon_matrix(int(n_src_lon), int(n_dst_lon))
        self.register_buffer("a_lat", torch.tensor(a_lat, dtype=torch.float32), persistent=False)
        self.register_buffer("a_lon", torch.tensor(a_lon, dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("Hh,...hw,Ww->...HW", self.a_lat, x, self.a_lon)


# ---------------------------------------------------------------- SimVP parts
class ConvSC(nn.Module):
    """Spherical 3x3 convolution (optionally stride 2) -> GroupNorm(2) -> SiLU (OpenSTL's ConvSC)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv = SphereConv2d(c_in, c_out, 3, stride=stride)
        self.norm = nn.GroupNorm(2 if c_out % 2 == 0 else 1, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(self.norm(self.conv(x)))


class UpSC(nn.Module):
    """Nearest x2 then :class:`ConvSC`."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv = ConvSC(ch, ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TemporalAttention(StaticAttention):
    """Temporal Attention Unit (Tan et al. 2023, Sec. 3, Eq. 2-4), ``[B, D, h, w] -> [B, D, h, w]``.

    Static (intra-frame) attention :class:`~climviz.nn.static_attention.StaticAttention`:
    depthwise 5x5 -> depthwise 7x7 with dilation 3 -> 1x1 convolution, a large
    receptive field at small cost (``f_x``; its layers keep their names ``dw``,
    ``dw_dilated``, ``pw`` in checkpoints).
    Dynamical (inter-frame) attention: squeeze-excitation over the time-folded
    channels, global average pool -> FC -> ReLU -> FC -> sigmoid (``se``).
    Output ``se * f_x * u`` with ``u`` the input (Eq. 4).
    """

    def __init__(self, dim: int, reduction: int = 16):
        super().__init__(dim)  # static branch
        hidden = max(dim // reduction, 4)
        self.se = nn.Sequential(  # dynamical
            nn.Linear(dim, hidden, bias=False), nn.ReLU(), nn.Linear(hidden, dim, bias=False), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f_x = super().forward(x)
        se = self.se(x.mean(dim=(-2, -1)))[..., None, None]
        return se * f_x * x


class TAUBlock(nn.Module):
    """OpenSTL's TAU sub-block: ``x + ls1 * attn(norm x)``, ``x + ls2 * mlp(norm x)``.

    ``attn`` = 1x1 -> GELU -> :class:`TemporalAttention` -> 1x1; ``mlp`` = 1x1 ->
    depthwise spherical 3x3 -> GELU -> 1x1. GroupNorm(1) instead of BatchNorm so
    training and inference behave the same at any batch size.
    """

    def __init__(self, dim: int, mlp_ratio: float = 4.0, layer_scale: float = 1e-2):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.GroupNorm(1, dim)
        self.attn = nn.Sequential(
            nn.Conv2d(dim, dim, 1), nn.GELU(), TemporalAttention(dim), nn.Conv2d(dim, dim, 1)
        )
        self.norm2 = nn.GroupNorm(1, dim)
        self.mlp = nn.Sequential(
            nn.Conv2d(dim, hidden, 1),
            SphereConv2d(hidden, hidden, 3, groups=hidden),
            nn.GELU(),
            nn.Conv2d(hidden, dim, 1),
        )
        self.ls1 = nn.Parameter(torch.full((dim, 1, 1), layer_scale))
        self.ls2 = nn.Parameter(torch.full((dim, 1, 1), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1 * self.attn(self.norm1(x))
        return x + self.ls2 * self.mlp(self.norm2(x))


@dataclass
class SimVPConfig:
    frames: int = 8  # T: frames per window (time is folded into channels)
    channels: int = 2  # C: variables (u, v)
    coarse_shape: tuple[int, int] = (16, 32)  # (h, w) of the coarse input grid
    factor: int = 4  # fine grid = factor * coarse grid
    hid_s: int = 16  # spatial (encoder/decoder) channels
    hid_t: int = 128  # translator channels
    n_s: int = 2  # stride-2 encoder stages (latent = fine / 2**n_s)
    n_t: int = 4  # TAU blocks in the translator
    mlp_ratio: float = 4.0  # TAU MLP width / hid_t
    coarse_lat: list | None = field(default=None)  # ascending degrees; None = Gaussian
    fine_lat: list | None = field(default=None)  # ascending degrees; None = Gaussian

    @property
    def fine_shape(self) -> tuple[int, int]:
        return (self.coarse_shape[0] * self.factor, self.coarse_shape[1] * self.factor)

    def lats(self) -> tuple[np.ndarray, np.ndarray]:
        """(coarse, fine) latitudes, ascending degrees."""
        c = (
            np.asarray(self.coarse_lat, float)
            if self.coarse_lat is not None
            else gaussian_latitudes(self.coarse_shape[0])
        )
        f = (
            np.asarray(self.fine_lat, float)
            if self.fine_lat is not None
            else gaussian_latitudes(self.fine_shape[0])
        )
        return c, f

    def to_dict(self) -> dict:
        d = asdict(self)
        d["coarse_shape"] = list(self.coarse_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SimVPConfig:
        """From a checkpoint's config, every value checked (:class:`~climviz.nn.checkpoint.CheckpointError`).

        ``coarse_lat``/``fine_lat`` may be missing (Gaussian latitudes).
        """
        return config_from_dict(
            cls,
            d,
            optional=("coarse_lat", "fine_lat"),
            limits={
                "frames": (1, 256),
                "channels": (1, 64),
                "coarse_shape": (1, 4096),
                "factor": (1, 16),
                "hid_s": (1, 1024),
                "hid_t": (1, 4096),
                "n_s": (0, 8),
                "n_t": (1, 64),
                "mlp_ratio": (0.1, 16.0),
                "coarse_lat": (-90.0, 90.0),
                "fine_lat": (-90.0, 90.0),
            },
        )

    def check(self) -> None:
        """Relations between fields that the network needs (``ValueError``)."""
        hh, ww = self.fine_shape
        if hh % 2**self.n_s or ww % 2**self.n_s:
            raise ValueError(f"the fine grid {hh}x{ww} is not divisible by 2**n_s = {2**self.n_s}")
        for name, want in (("coarse_lat", self.coarse_shape[0]), ("fine_lat", hh)):
            lat = getattr(self, name)
            if lat is not None and len(lat) != want:
                raise ValueError(f"{name} has {len(lat)} latitudes, the grid has {want}")
            if lat is not None and any(b <= a for a, b in zip(lat, lat[1:])):
                raise ValueError(f"{name} must be strictly ascending")


class SimVP(nn.Module):
    """SimVP-TAU mean model ``[B, T, C, h, w] -> [B, T, C, H, W]`` (see module docstring)."""

    def __init__(self, cfg: SimVPConfig):
        super().__init__()
        self.cfg = cfg
        hh, ww = cfg.fine_shape
        if hh % 2**cfg.n_s or ww % 2**cfg.n_s:
            raise ValueError(f"fine grid {hh}x{ww} is not divisible by 2**n_s = {2**cfg.n_s}")
        c_lat, f_lat = cfg.lats()
        if len(c_lat) != cfg.coarse_shape[0] or len(f_lat) != hh:
            raise ValueError("coarse_lat/fine_lat lengths do not match the grid shapes")
        self.upsample = LatLonUpsample(c_lat, f_lat, cfg.coarse_shape[1], ww)
        c, s, t = cfg.channels, cfg.hid_s, cfg.frames
        self.enc_in = ConvSC(c, s)
        self.enc = nn.ModuleList(ConvSC(s, s, stride=2) for _ in range(cfg.n_s))
        self.translator_in = nn.Conv2d(t * s, cfg.hid_t, 1)
        self.translator = nn.Sequential(*(TAUBlock(cfg.hid_t, cfg.mlp_ratio) for _ in range(cfg.n_t)))
        self.translator_out = nn.Conv2d(cfg.hid_t, t * s, 1)
        self.dec = nn.ModuleList(UpSC(s) for _ in range(cfg.n_s))
        self.dec_out = ConvSC(2 * s, s)
        self.readout = nn.Conv2d(s, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        if t != self.cfg.frames or c != self.cfg.channels or (h, w) != tuple(self.cfg.coarse_shape):
            raise ValueError(
                f"SimVP expects [B, {self.cfg.frames}, {self.cfg.channels}, {self.cfg.coarse_shape[0]}, "
                f"{self.cfg.coarse_shape[1]}], got {list(x.shape)}"
            )
        up = self.upsample(x)  # [B, T, C, H, W]
        z = up.flatten(0, 1)
        skip = z = self.enc_in(z)  # [B*T, S, H, W]
        for layer in self.enc:
            z = layer(z)  # [B*T, S, H/2^k, W/2^k]
        hl, wl = z.shape[-2:]
        z = z.reshape(b, t * z.shape[1], hl, wl)  # fold time into channels
        z = self.translator_out(self.translator(self.translator_in(z)))
        z = z.reshape(b * t, -1, hl, wl)
        for layer in self.dec:
            z = layer(z)
        z = self.dec_out(torch.cat([z, skip], dim=1))
        return up + self.readout(z).view_as(up)  # correction to the interpolated input
