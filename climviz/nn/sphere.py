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
    """Pad ``x [..., H, W]`` by ``pad`` cells on every side, as on a sphere, in one copy.

    Longitude (``W``, even) is periodic. Beyond a pole the row ``i`` cells past it
    is row ``i`` on the other side, half a turn round in longitude (padded column
    ``j`` holds longitude index ``(j - pad + W/2) mod W``). When ``pad > H`` the
    rows beyond the poles are zeros instead (the wide dilated kernels on tiny grids).
    """
    if pad == 0:
        return x
    h, w = x.shape[-2:]
    if w % 2:
        raise ValueError(f"spherical padding needs an even number of longitudes, got {w}")
    lon = torch.arange(-pad, w + pad, device=x.device)
    shape = (*x.shape[:-2], h + 2 * pad, w + 2 * pad)
    out = x.new_empty(shape) if pad <= h else x.new_zeros(shape)
    if pad <= w:
        mid = out[..., pad : pad + h, :]
        mid[..., pad : pad + w] = x
        mid[..., :pad] = x[..., w - pad :]
        mid[..., pad + w :] = x[..., :pad]
    else:
        out[..., pad : pad + h, :] = x.index_select(-1, lon % w)
    if pad <= h:
        half = (lon + w // 2) % w
        out[..., :pad, :] = x[..., :pad, :].flip(-2).index_select(-1, half)
        out[..., pad + h :, :] = x[..., h - pad :, :].flip(-2).index_select(-1, half)
    return out


class SphereConv2d(nn.Conv2d):
    """``nn.Conv2d`` with spherical padding of ``dilation * (kernel_size // 2)`` (odd kernels)."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 1, dilation: int = 1, **kwargs
    ):
        super().__init__(in_ch, out_ch, kernel_size, stride=stride, dilation=dilation, padding=0, **kwargs)
        self._pad = dilation * (kernel_size // 2)

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
    """Double ``H`` and ``W`` (nearest neighbour) then a spherical 3x3 convolution.

    Computed without forming the up-sampled field: each of the four output
    phases ``(2i + a, 2j + b)`` sees only 2x2 cells of the input, so the 3x3
    kernel folds into four 2x2 kernels applied at the input's resolution
    (2.25x fewer multiply-adds; the same result to float rounding, since
    spherical padding commutes with nearest-neighbour up-sampling).
    """

    def __init__(self, ch: int, out_ch: int | None = None):
        super().__init__()
        self.conv = SphereConv2d(ch, out_ch or ch, 3)

    @staticmethod
    def _fold(k: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        """3 taps along ``dim`` -> the 2 taps of phase 0 and of phase 1."""
        t0, t1, t2 = k.unbind(dim)
        return torch.stack([t0, t1 + t2], dim), torch.stack([t0 + t1, t2], dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        xp = spherical_pad(x, 1)
        rows = self._fold(self.conv.weight, 2)
        phases = []
        for a in (0, 1):
            cols = self._fold(rows[a], 3)
            phases.append(
                torch.stack(
                    [
                        F.conv2d(xp[..., a : a + h + 1, b : b + w + 1], cols[b], self.conv.bias)
                        for b in (0, 1)
                    ],
                    -1,
                )
            )  # [B, out, h, w, 2]
        y = torch.stack(phases, 3)  # [B, out, h, 2, w, 2]
        return y.reshape(*y.shape[:2], 2 * h, 2 * w)
