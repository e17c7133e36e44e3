"""Time coherence of a sequence of fields: frame-to-frame change (flicker) and vortex-track continuity.

A downscaler that draws each frame independently can match every single-frame score and
still flicker: its small scales jump from one frame to the next where the truth's move.
Two measures of that, both compared with the truth on the same frames:

- :func:`mean_squared_change`: the area-weighted (``cos(lat)``) mean of the squared change
  between consecutive frames, over all frame pairs and any other dimension (samples);
- :func:`track_continuity`: the share of vortex centres (:func:`~climviz.diagnostics.vorticity.vortex_centres`,
  the same centres ``vortex_count`` counts) at one frame that have a centre of the same sign
  within ``max_km`` (great-circle) at the next frame.

Pure numpy/xarray; the vorticity itself comes from :mod:`climviz.diagnostics.vorticity`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climviz.diagnostics.means import area_weights
from climviz.diagnostics.spectra import EARTH_RADIUS_KM
from climviz.diagnostics.vorticity import vortex_peaks

MATCH_DISTANCE_KM = 500.0  # a vortex is continued if a same-sign centre lies this close one frame later


def mean_squared_change(
    da: xr.DataArray, *, dim: str = "time", lat_dim: str = "lat", keep: tuple[str, ...] = ()
) -> xr.DataArray:
    """Area-weighted mean of ``(x[t+1] - x[t])**2`` over the frame pairs along ``dim``.

    Averaged with ``cos(lat)`` weights over all dimensions except ``keep`` (so over all
    consecutive frame pairs, the grid and any sample dimension). For frames of independent
    white noise of variance ``s**2`` it is ``2 s**2``; for a field that does not change, 0.

    Parameters
    ----------
    da : DataArray ``(..., time, lat, lon)``, frames equally spaced along ``dim``.
    dim : the frame dimension (at least two frames).
    lat_dim : latitude dimension (degrees) for the weights.
    keep : dimensions not to average over.

    Returns
    -------
    DataArray ``(*keep)`` in the units of ``da`` squared, named ``mean_squared_change``.

    Example
    -------
    Frames that do not change give 0; u from 4 samples against the truth gives the flicker ratio::

        still = xr.DataArray(np.ones((3, 4, 8)), dims=("time", "lat", "lon"), coords={"lat": [-60, -20, 20, 60]})
        float(mean_squared_change(still))  # 0.0
        ratio = float(mean_squared_change(u_samples) / mean_squared_change(u_truth))
    """
    if dim not in da.dims or da.sizes[dim] < 2:
        raise ValueError(f"mean_squared_change needs at least two frames along {dim!r} (dims {da.dims})")
    if lat_dim not in da.dims:
        raise ValueError(f"no latitude dimension {lat_dim!r} in {da.dims}")
    d2 = da.diff(dim) ** 2
    over = [d for d in d2.dims if d not in keep]
    out = d2.weighted(area_weights(da, lat_dim=lat_dim)).mean(over)
    units = da.attrs.get("units")
    return out.rename("mean_squared_change").assign_attrs(
        long_name=f"mean squared change between consecutive frames along {dim}",
        **({"units": f"({units})2"} if units else {}),
    )


def great_circle_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (km, haversine, radius ``EARTH_RADIUS_KM``) between points in degrees; broadcasts."""
    p1, p2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dlat, dlon = p2 - p1, np.deg2rad(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _matched(a: tuple, b: tuple, max_km: float) -> np.ndarray:
    """For each centre ``(lat, lon, sign)`` of ``a``: is a same-sign centre of ``b`` within ``max_km``?"""
    (la, oa, sa), (lb, ob, sb) = a, b
    if la.size == 0 or lb.size == 0:
        return np.zeros(la.size, bool)
    dist = great_circle_km(la[:, None], oa[:, None], lb[None, :], ob[None, :])
    return np.any((dist <= max_km) & (sa[:, None] == sb[None, :]), axis=1)


def _as_tuple(centres: xr.Dataset) -> tuple:
    return (
        np.asarray(centres["lat"].values, float),
        np.asarray(centres["lon"].values, float),
        np.sign(centres["zeta"].values),
    )


def matched_share(a: xr.Dataset, b: xr.Dataset, max_km: float = MATCH_DISTANCE_KM) -> float:
    """Share of the vortex centres ``a`` that have a centre of the same sign in ``b`` within ``max_km``.

    Parameters
    ----------
    a, b : Datasets ``(vortex)`` with ``lat``, ``lon`` (degrees) and ``zeta`` (its sign is the
        vortex's sense), as from :func:`~climviz.diagnostics.vorticity.vortex_centres`.
    max_km : great-circle distance (km) within which a centre counts as the same vortex.

    Returns
    -------
    float in [0, 1]; NaN when ``a`` has no centre. Several centres of ``a`` may match one of ``b``.

    Example
    -------
    A vortex moved 3 degrees of longitude along the equator (334 km) is matched within 500 km,
    not within 300 km::

        a = vortex_centres(zeta_t, threshold)
        b = vortex_centres(zeta_t_plus_6h, threshold)
        matched_share(a, b, 500.0)  # 1.0
        matched_share(a, b, 300.0)  # 0.0
    """
    m = _matched(_as_tuple(a), _as_tuple(b), max_km)
    return float(m.mean()) if m.size else float("nan")


def track_continuity(
    zeta: xr.DataArray, threshold: float, *, max_km: float = MATCH_DISTANCE_KM, dim: str = "time"
) -> float:
    """Share of all vortex centres at frame ``t`` continued (same sign, within ``max_km``) at ``t + 1``.

    The centres are those of :func:`~climviz.diagnostics.vorticity.vortex_peaks` (local maxima of
    ``|zeta|`` above ``threshold``, 3x3, longitude periodic). The share is pooled: matched
    centres over all centres, over all frame pairs and any other dimension (samples), so that
    frames with few vortices weigh less.

    Parameters
    ----------
    zeta : DataArray ``(..., time, lat, lon)``, vorticity (s-1) with ``lat``/``lon`` coords in degrees.
    threshold : minimum ``|zeta|`` of a centre (s-1).
    max_km : great-circle matching distance (km).
    dim : the frame dimension.

    Returns
    -------
    float in [0, 1]; NaN when no frame but the last has a centre.

    Example
    -------
    The truth's continuity and a downscaler's, at the same threshold::

        thresh = 2.0 * float(zeta_truth.std())
        track_continuity(zeta_samples, thresh) / track_continuity(zeta_truth, thresh)
    """
    if dim not in zeta.dims or zeta.sizes[dim] < 2:
        raise ValueError(f"track_continuity needs at least two frames along {dim!r} (dims {zeta.dims})")
    z = zeta.transpose(..., dim, "lat", "lon")
    peaks = vortex_peaks(z, threshold).values
    values = z.values
    lat, lon = np.asarray(z["lat"].values, float), np.asarray(z["lon"].values, float)
    nt, ny, nx = values.shape[-3:]
    peaks, values = peaks.reshape(-1, nt, ny, nx), values.reshape(-1, nt, ny, nx)
    matched = total = 0
    for series_peaks, series in zip(peaks, values):
        centres = []
        for p, f in zip(series_peaks, series):
            i, j = np.nonzero(p)
            centres.append((lat[i], lon[j], np.sign(f[i, j])))
        for a, b in zip(centres[:-1], centres[1:]):
            m = _matched(a, b, max_km)
            matched += int(m.sum())
            total += m.size
    return matched / total if total else float("nan")
