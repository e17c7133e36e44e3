"""Padding and convolutions on a global latitude-longitude grid.

Longitude is periodic (circular padding). Across a pole, the row beyond the
pole is the row on the other side of it, half-way round in longitude, so a
convolution sees the true neighbours there and no seam forms at the poles.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def spherical_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad ``x [..., H, W]`` by ``pad`` cells on every side, as on a sphere.

    Latitude runs along ``H`` (either direction), longitude along ``W``
    (periodic; ``W`` must be even so a half turn is a whole number of cells).
    """
    if pad == 0:
        return x
    w = x.shape[-1]
    if w % 2:
        raise ValueError(f"spherical padding needs an even number of longitudes, got {w}")
    x = torch.cat([x[..., -pad:], x, x[..., :pad]], dim=-1)  # periodic longitude
    # over the pole: the rows nearest the pole, mirrored, half a turn round
    first = torch.roll(x[..., :pad, :].flip(-2), shifts=w // 2, dims=-1)
    last = torch.roll(x[..., -pad:, :].flip(-2), shifts=w // 2, dims=-1)
    return torch.cat([first, x, last], dim=-2)


class SphereConv2d(nn.Conv2d):
    """``nn.Conv2d`` with spherical padding of ``kernel_size // 2`` (odd kernels)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 1, **kwargs):
        super().__init__(in_ch, out_ch, kernel_size, stride=stride, padding=0, **kwargs)
        self._pad = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(spherical_pad(x, self._pad))


class ResBlock(nn.Module):
    """GroupNorm -> SiLU -> SphereConv, twice, with a skip connection. ``[B, C, H, W]``."""

    def __init__(self, in_ch: int, out_ch: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, in_ch), in_ch)
        self.conv1 = SphereConv2d(in_ch, out_ch)
        self.norm2 = nn.GroupNorm(min(groups, out_ch), out_ch)
        self.conv2 = SphereConv2d(out_ch, out_ch)
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Down(nn.Module):
    """Halve ``H`` and ``W`` with a stride-2 spherical convolution."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv = SphereConv2d(ch, ch, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Up(nn.Module):
    """Double ``H`` and ``W`` (nearest neighbour) then a spherical convolution."""

    def __init__(self, ch: int, out_ch: int | None = None):
        super().__init__()
        self.conv = SphereConv2d(ch, out_ch or ch, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
