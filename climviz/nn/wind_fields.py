"""The TAUDiff wind-field conventions shared by training and inference.

The variables (``u``, ``v``), their normalisation (one global mean and std per
variable, stored in every ``config.json``) and the coarse -> fine interpolation
that conditions the models. :mod:`climviz.train.taudiff` (training) and
:mod:`climviz.pipelines.downscale` (inference) both import them from here, so
inference never imports :mod:`climviz.train`. Tensors only.
"""

from __future__ import annotations

import numpy as np
import torch

from climviz.nn.simvp import LatLonUpsample

VARIABLES = ("u", "v")


def per_variable(values, device) -> torch.Tensor:
    """``C`` numbers as a ``[C, 1, 1]`` tensor on ``device``: broadcasts over ``[..., C, H, W]``."""
    return torch.as_tensor(np.asarray(values, np.float32), device=device)[:, None, None]


def normalize(x: torch.Tensor, norm: dict) -> torch.Tensor:
    """``(x - mean) / std`` per variable; ``x [..., C, H, W]``, ``norm`` with lists ``mean``, ``std`` of length C."""
    return (x - per_variable(norm["mean"], x.device)) / per_variable(norm["std"], x.device)


def denormalize(x: torch.Tensor, norm: dict) -> torch.Tensor:
    """``x * std + mean`` per variable, the inverse of :func:`normalize`."""
    return x * per_variable(norm["std"], x.device) + per_variable(norm["mean"], x.device)


def make_upsample(grid: dict) -> LatLonUpsample:
    """The coarse -> fine interpolation used for conditioning (same as the mean model's).

    ``grid``: ``coarse_lat, coarse_lon, fine_lat, fine_lon`` (degrees), as in ``config.json``.
    """
    return LatLonUpsample(
        grid["coarse_lat"], grid["fine_lat"], len(grid["coarse_lon"]), len(grid["fine_lon"])
    )
