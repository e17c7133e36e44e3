"""Latitude-longitude grid arithmetic in plain numpy, below every package that needs it.

:mod:`climviz.nn` (tensors only) and :mod:`climviz.data` (xarray) both import
these; this module imports nothing from climviz. :mod:`climviz.data.grid`
re-exports them beside the canonical names and grids.
"""

from __future__ import annotations

import numpy as np


def gaussian_latitudes(nlat: int) -> np.ndarray:
    """Legendre-Gauss latitudes in degrees north, ascending, shape ``[nlat]``."""
    x, _ = np.polynomial.legendre.leggauss(nlat)  # nodes in cos(colatitude), ascending
    return np.rad2deg(np.arcsin(x))


def regular_longitudes(nlon: int) -> np.ndarray:
    """Equally spaced longitudes ``0, 360/nlon, ...`` in degrees east, shape ``[nlon]``."""
    return np.arange(nlon) * (360.0 / nlon)


def cell_area_weights(lat: np.ndarray) -> np.ndarray:
    """Area weights proportional to cos(latitude), shape ``[nlat]``, normalised to mean 1."""
    w = np.cos(np.deg2rad(np.asarray(lat, dtype=float)))
    return w / w.mean()
