"""Canonical grids and names shared by every module.

The canonical form of a temperature ensemble is an ``xr.DataArray`` named
``tas`` with dims ``(member, time, lat, lon)``, latitude ascending in degrees
north, longitude in ``[0, 360)`` degrees east, cftime monthly time stamps
(calendar ``proleptic_gregorian``, mid-month) and units ``K``.

The embedded default grid is a Gaussian grid (Legendre-Gauss latitudes), as
MPI-ESM's T63 (96 x 192) is, so spherical-harmonic transforms on it are exact.
The grid arithmetic itself (Gaussian latitudes, regular longitudes, area
weights) is in :mod:`climviz.latlon`, re-exported here.
"""

from __future__ import annotations

import numpy as np

# the grid arithmetic lives below climviz.nn and climviz.data; re-exported here
from climviz.latlon import cell_area_weights, gaussian_latitudes, regular_longitudes  # noqa: F401

MEMBER, TIME, LAT, LON = "member", "time", "lat", "lon"
CANONICAL_DIMS = (MEMBER, TIME, LAT, LON)
CALENDAR = "proleptic_gregorian"
TIME_UNITS = "days since 1850-01-01"
DEFAULT_GRID = (96, 192)


def global_grid(nlat: int, nlon: int) -> tuple[np.ndarray, np.ndarray]:
    """The canonical global grid: Gaussian latitudes (ascending), regular longitudes."""
    return gaussian_latitudes(nlat), regular_longitudes(nlon)


def parse_grid(text: str) -> tuple[int, int]:
    """Parse ``"96x192"`` into ``(96, 192)``; raise ``ValueError`` with the reason."""
    try:
        nlat, nlon = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"grid must look like NLATxNLON (e.g. 96x192), got {text!r}") from None
    if nlat < 4 or nlon < 8:
        raise ValueError(f"grid {text!r} is too small: need at least 4x8")
    if nlon != 2 * nlat:
        raise ValueError(f"grid {text!r}: nlon must be 2*nlat for a global Gaussian grid")
    return nlat, nlon


def grid_mismatch(lat, lon, ref_lat, ref_lon, atol: float = 1e-3) -> str:
    """'' when ``lat, lon`` are the reference grid, else how it differs, for an error message:
    ``"a 3x7 grid"`` or ``"an 8x16 grid with other latitudes or longitudes"``."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    ref_lat, ref_lon = np.asarray(ref_lat, float), np.asarray(ref_lon, float)
    same_shape = lat.shape == ref_lat.shape and lon.shape == ref_lon.shape
    if same_shape and np.allclose(lat, ref_lat, atol=atol) and np.allclose(lon, ref_lon, atol=atol):
        return ""
    article = "an" if str(lat.size)[0] == "8" or lat.size in (11, 18) else "a"
    return f"{article} {lat.size}x{lon.size} grid" + (
        " with other latitudes or longitudes" if same_shape else ""
    )


def decimal_years(times) -> np.ndarray:
    """cftime (or datetime64) stamps -> decimal years ``year + (month - 0.5) / 12``."""
    import pandas as pd  # only for datetime64 input

    out = []
    for t in np.asarray(times):
        if not hasattr(t, "month"):
            t = pd.Timestamp(t)
        out.append(t.year + (t.month - 0.5) / 12.0)
    return np.asarray(out, dtype=np.float64)
