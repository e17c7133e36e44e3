"""TAU's static (intra-frame) attention: a large receptive field from depthwise convolutions.

Tan et al. 2023 ("TAU", arXiv 2206.12126), Sec. 3, Eq. 2: a depthwise ``k x k``
convolution (local), a dilated depthwise convolution (wide) and a ``1 x 1``
convolution (channel mixing) give the attention map ``f_x``; with the defaults
(5x5, then 7x7 dilated by 3) one output sees 23 x 23 input cells for about
``(25 + 49 + dim) * dim`` weights. Two users:

- :class:`climviz.nn.simvp.TemporalAttention` (the SimVP translator): ``f_x``
  times a squeeze-excitation over the time-folded channels;
- the ``"tau"`` Channel Attention Unit of :mod:`climviz.nn.cau_unet` (one frame):
  ``f_x`` times the CAU's squeeze-excitation.

All convolutions pad spherically (:class:`~climviz.nn.sphere.SphereConv2d`), so
the map commutes with a longitude roll by any whole number of cells.
Tensors: ``[B, dim, H, W] -> [B, dim, H, W]``.
"""

from __future__ import annotations

import torch
from torch import nn

from climviz.nn.sphere import SphereConv2d


class StaticAttention(nn.Module):
    """``f_x = pw(dw_dilated(dw(x)))``, ``[B, dim, H, W]`` (TAU Eq. 2; see module docstring)."""

    def __init__(self, dim: int, kernel: int = 5, dilated_kernel: int = 7, dilation: int = 3):
        super().__init__()
        self.dw = SphereConv2d(dim, dim, kernel, groups=dim)  # local
        self.dw_dilated = SphereConv2d(dim, dim, dilated_kernel, dilation=dilation, groups=dim)  # wide
        self.pw = nn.Conv2d(dim, dim, 1)  # channel mixing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw_dilated(self.dw(x)))
