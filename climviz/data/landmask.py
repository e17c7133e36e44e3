"""Land fraction of grid cells from the shipped Natural Earth 110m land polygons.

The land polygons (``climviz.data.coastlines.land_geometries``) are the union
of Natural Earth's admin-0 countries. Antarctica is included, down to the
grounding line: the big ice shelves (Ross, Ronne-Filchner) are *not* land in
Natural Earth and so count as water here, as does the Caspian Sea. Measured on
the 96 x 192 Gaussian grid, the area-weighted land fraction is about 0.28.
"""

from __future__ import annotations

import functools

import numpy as np


def lat_edges(lat: np.ndarray) -> np.ndarray:
    """Cell edges in latitude, shape ``[nlat + 1]``, from midpoints between centres.

    An outer edge is the pole when the outer centre is less than one spacing
    from it (so a global grid, Gaussian or regular, covers the whole sphere);
    otherwise (a regional grid) it lies half a spacing beyond the outer centre.
    ``lat`` must be strictly monotonic; edges follow its order.
    """
    lat = np.asarray(lat, dtype=float)
    if lat.ndim != 1 or lat.size < 2:
        raise ValueError(f"lat must be 1-D with at least 2 values, got shape {lat.shape}")
    d = np.diff(lat)
    if not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError("lat must be strictly monotonic")
    mid = 0.5 * (lat[:-1] + lat[1:])
    first, last = lat[0] - 0.5 * d[0], lat[-1] + 0.5 * d[-1]
    if abs(lat[0] - d[0]) >= 90:
        first = float(np.sign(-d[0]) * 90.0)
    if abs(lat[-1] + d[-1]) >= 90:
        last = float(np.sign(d[-1]) * 90.0)
    return np.clip(np.concatenate([[first], mid, [last]]), -90.0, 90.0)


def lon_edges(lon: np.ndarray) -> np.ndarray:
    """Cell edges in longitude, shape ``[nlon + 1]``, from midpoints between centres.

    ``lon`` must be strictly increasing and span less than 360 degrees. When the
    gap from the last centre round to the first (``lon[0] + 360 - lon[-1]``) is no
    wider than 1.5 spacings the grid is taken as periodic and the outer edges sit
    in the middle of that gap (so ``edges[-1] - edges[0] == 360``); otherwise (a
    regional grid) they lie half a spacing beyond the outer centres.
    """
    lon = np.asarray(lon, dtype=float)
    if lon.ndim != 1 or lon.size < 2:
        raise ValueError(f"lon must be 1-D with at least 2 values, got shape {lon.shape}")
    d = np.diff(lon)
    if not np.all(d > 0) or lon[-1] - lon[0] >= 360:
        raise ValueError("lon must be strictly increasing and span less than 360 degrees")
    mid = 0.5 * (lon[:-1] + lon[1:])
    gap = lon[0] + 360.0 - lon[-1]
    if gap <= 1.5 * np.median(d):  # periodic: close the circle through the gap
        return np.concatenate([[lon[0] - 0.5 * gap], mid, [lon[-1] + 0.5 * gap]])
    return np.concatenate([[lon[0] - 0.5 * d[0]], mid, [lon[-1] + 0.5 * d[-1]]])


def _sub_points(lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """``n`` equally spaced sub-cell centres in each interval, shape ``[ncell, n]``."""
    frac = (np.arange(n) + 0.5) / n
    return lo[:, None] + (hi - lo)[:, None] * frac[None, :]


def fraction_covered(geometry, lat: np.ndarray, lon: np.ndarray, *, oversample: int = 4) -> np.ndarray:
    """Fraction of each grid cell's area covered by ``geometry``, shape ``[nlat, nlon]``.

    Each cell is split into ``oversample x oversample`` sub-cells of equal area
    (equal steps in longitude and in sin(latitude)); the fraction is the share
    of sub-cell centres inside ``geometry`` (boundary counts as inside).

    Parameters
    ----------
    geometry : shapely geometry
        Polygons in lon/lat degrees with longitudes in [-180, 180] (Natural
        Earth's convention; a shape crossing the dateline is split there).
    lat : array, shape ``[nlat]``
        Cell-centre latitudes, degrees north, strictly monotonic.
    lon : array, shape ``[nlon]``
        Cell-centre longitudes, degrees east, strictly increasing (any range,
        e.g. [0, 360) or [-180, 180)); periodic when the grid is global.
    oversample : int
        Sub-cells per cell edge; the fraction resolves steps of ``1/oversample**2``.

    Returns
    -------
    np.ndarray, float64, shape ``[nlat, nlon]``, values in [0, 1].
    """
    import shapely

    if int(oversample) < 1:
        raise ValueError(f"oversample must be >= 1, got {oversample}")
    n = int(oversample)
    le, oe = lat_edges(lat), lon_edges(lon)
    s = np.sin(np.deg2rad(le))
    ys = np.rad2deg(np.arcsin(np.clip(_sub_points(s[:-1], s[1:], n), -1.0, 1.0)))  # [nlat, n]
    xs = _sub_points(oe[:-1], oe[1:], n)  # [nlon, n]
    xs = (xs + 180.0) % 360.0 - 180.0  # to [-180, 180): the dateline is handled by the wrap
    nlat, nlon = ys.shape[0], xs.shape[0]
    y = np.broadcast_to(ys[:, :, None, None], (nlat, n, nlon, n))
    x = np.broadcast_to(xs[None, None, :, :], (nlat, n, nlon, n))
    shapely.prepare(geometry)
    inside = shapely.intersects_xy(geometry, x.ravel(), y.ravel()).reshape(nlat, n, nlon, n)
    return inside.mean(axis=(1, 3))


@functools.lru_cache(maxsize=16)
def _land_fraction_cached(lat: tuple, lon: tuple, oversample: int) -> np.ndarray:
    from climviz.data.coastlines import land_geometries

    out = fraction_covered(land_geometries(), np.array(lat), np.array(lon), oversample=oversample)
    out.setflags(write=False)
    return out


def land_fraction(lat: np.ndarray, lon: np.ndarray, *, oversample: int = 4) -> np.ndarray:
    """Fraction of each grid cell that is land, shape ``[nlat, nlon]``, in [0, 1].

    Rasterises the shipped Natural Earth 110m land polygons (see the module
    docstring for what counts as land) with :func:`fraction_covered`. Cached on
    the grid: a repeated call with the same ``lat``/``lon``/``oversample`` costs a
    copy. About 0.1-0.2 s for 96 x 192 at ``oversample=4`` on one core.

    Parameters
    ----------
    lat : array, shape ``[nlat]``
        Cell-centre latitudes, degrees north (the canonical grid is ascending).
    lon : array, shape ``[nlon]``
        Cell-centre longitudes, degrees east, in [0, 360), periodic.
    oversample : int
        Sub-cells per cell edge.

    Returns
    -------
    np.ndarray, float64, shape ``[nlat, nlon]``; dims ``(lat, lon)``.

    Examples
    --------
    >>> from climviz.data.grid import global_grid
    >>> lat, lon = global_grid(96, 192)
    >>> frac = land_fraction(lat, lon)
    >>> frac.shape
    (96, 192)
    """
    key_lat = tuple(float(v) for v in np.asarray(lat, dtype=float).ravel())
    key_lon = tuple(float(v) for v in np.asarray(lon, dtype=float).ravel())
    return _land_fraction_cached(key_lat, key_lon, int(oversample)).copy()
