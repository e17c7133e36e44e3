"""Inspect one grid point tapped on a map (numpy/xarray only: no torch, no Panel).

The maps of :func:`climviz.ui.views.map_view` are drawn in the display coordinates of a
``PlateCarree(central_longitude=central_lon)`` projection (``x = lon - central_lon``, in
[-180, 180); 180 by default, Pacific-centred), and the element carries that projection as its
``crs``, so GeoViews hands a HoloViews ``Tap`` stream ``x`` in those display coordinates and
``y`` in degrees north. :func:`tap_to_lonlat` turns them back into degrees east;
:func:`nearest_point` finds the grid point whatever the grid's longitude convention
(0..360 or -180..180).

:func:`inspect_point` gathers what the point views draw for the ensemble tab (time series of the
conditioning run, generated and true members; anomaly quantiles and histograms; rank histogram
of the truth among the generated members); :func:`inspect_wind_point` the wind speed through
time for the downscaling tab.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from climviz.data.grid import decimal_years
from climviz.diagnostics.scores import rank_histogram

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
CLIMATOLOGY_NOTE = "monthly climatology of the conditioning run over the period, at this grid point"


def wrap_lon(lon, start: float = 0.0):
    """Longitudes folded into ``[start, start + 360)`` (``start=-180`` for the -180..180 convention)."""
    return (np.asarray(lon, dtype=float) - start) % 360.0 + start


def tap_to_lonlat(x: float, y: float, central_lon: float = 180.0) -> tuple[float, float]:
    """A tap on a map drawn by ``map_view(..., central_lon=central_lon)`` -> ``(lon in [0, 360), lat)``.

    ``x`` is the projection's display coordinate ``lon - central_lon``; pass ``central_lon=0``
    for a tap already in degrees east (any convention). ``y`` is clipped to [-90, 90].
    """
    return float(wrap_lon(float(x) + central_lon)), float(np.clip(y, -90.0, 90.0))


@dataclass(frozen=True)
class GridPoint:
    """The grid point nearest a tap: its indices and its coordinates as the grid states them."""

    ilat: int  # index along lat
    ilon: int  # index along lon
    lat: float  # grid latitude (degrees north)
    lon: float  # grid longitude (degrees east, in the grid's own convention)

    def label(self) -> str:
        ns = "N" if self.lat >= 0 else "S"
        return f"{abs(self.lat):.1f}°{ns}, {float(wrap_lon(self.lon)):.1f}°E"


def nearest_point(lat: np.ndarray, lon: np.ndarray, at_lon: float, at_lat: float) -> GridPoint:
    """The grid point of the nearest latitude row and the nearest longitude column (on the circle).

    On a regular or Gaussian lat-lon grid this is the point whose cell holds the tap.
    ``at_lon`` may be in any convention (-179 and 181 are the same meridian).
    """
    lat, lon = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    dlon = np.abs(wrap_lon(lon - at_lon, -180.0))  # circular distance, degrees
    i, j = int(np.argmin(np.abs(lat - at_lat))), int(np.argmin(dlon))
    return GridPoint(ilat=i, ilon=j, lat=float(lat[i]), lon=float(lon[j]))


def pick_point(field: xr.DataArray, x: float, y: float, central_lon: float = 180.0) -> GridPoint:
    """The grid point of ``field`` (any array with ``lat`` and ``lon``) nearest a map tap ``(x, y)``."""
    lon, lat = tap_to_lonlat(x, y, central_lon)
    return nearest_point(field["lat"].values, field["lon"].values, lon, lat)


def at_point(da: xr.DataArray, point: GridPoint) -> xr.DataArray:
    """``da`` at the grid point (by index: the same grid as the one the point was picked on)."""
    return da.isel(lat=point.ilat, lon=point.ilon)


def _with_member(da: xr.DataArray) -> xr.DataArray:
    return da if "member" in da.dims else da.expand_dims(member=[0])


@dataclass
class PointInspection:
    """What the ensemble tab's point views show (all at one grid point, K).

    ``cond (time)``, ``generated (member, time)``, ``true (member, time)`` or None: the values;
    ``clim (month)``: the climatology the anomalies are taken against (``clim_note`` says which);
    ``*_anom``: the same minus ``clim``; ``quantiles``: ``{"generated", "true"}`` -> DataArray
    ``(quantile)`` of the anomalies pooled over members and months; ``bin_edges`` and ``counts``
    (``{"generated", "true"}`` -> int array) share one set of bins; ``rank_counts (rank)``: ranks
    of each true member among the generated members, counted over months and true members
    (None without true members).
    """

    point: GridPoint
    years: np.ndarray
    cond: xr.DataArray
    generated: xr.DataArray
    true: xr.DataArray | None
    clim: xr.DataArray
    clim_note: str
    cond_anom: xr.DataArray
    generated_anom: xr.DataArray
    true_anom: xr.DataArray | None
    quantiles: dict[str, xr.DataArray]
    bin_edges: np.ndarray
    counts: dict[str, np.ndarray]
    rank_counts: xr.DataArray | None


def anomaly_quantiles(anom: xr.DataArray, q=QUANTILES) -> xr.DataArray:
    """Quantiles ``(quantile)`` of ``anom`` pooled over all its dims (NaN left out)."""
    vals = np.asarray(anom.values, dtype=float).ravel()
    vals = vals[np.isfinite(vals)]
    out = np.quantile(vals, q) if vals.size else np.full(len(q), np.nan)
    return xr.DataArray(out, dims="quantile", coords={"quantile": list(q)}, name="anomaly_quantiles")


def shared_histograms(samples: dict[str, xr.DataArray], bins: int = 20) -> tuple[np.ndarray, dict]:
    """Histogram counts of each population on one set of ``bins`` equal bins spanning them all."""
    flat = {k: np.asarray(v.values, dtype=float).ravel() for k, v in samples.items()}
    flat = {k: v[np.isfinite(v)] for k, v in flat.items()}
    edges = np.histogram_bin_edges(np.concatenate(list(flat.values())), bins=bins)
    return edges, {k: np.histogram(v, bins=edges)[0] for k, v in flat.items()}


def inspect_point(
    generated: xr.DataArray,
    cond: xr.DataArray,
    point: GridPoint,
    true: xr.DataArray | None = None,
    *,
    clim: xr.DataArray | None = None,
    clim_note: str = "",
    quantiles=QUANTILES,
    bins: int = 20,
    seed: int = 0,
) -> PointInspection:
    """Everything the point views draw at ``point``.

    Parameters
    ----------
    generated : ``(member, time, lat, lon)`` generated ensemble (K).
    cond : ``(time, lat, lon)`` conditioning run on the same grid and months.
    point : from :func:`pick_point` on this grid.
    true : ``(member, time, lat, lon)`` or ``(time, lat, lon)`` true members, or None (an upload).
    clim : ``(month, lat, lon)`` climatology for the anomalies; default the conditioning run's
        monthly climatology over its months (as ``EnsembleResults.climatology()`` by default).
    clim_note : what ``clim`` is, when given.
    seed : tie-breaking of the rank histogram.
    """
    c = at_point(cond, point)
    g = at_point(generated, point)
    t = None if true is None else _with_member(at_point(true, point))
    if clim is None:
        clim_p, clim_note = c.groupby("time.month").mean("time"), CLIMATOLOGY_NOTE
    else:
        clim_p, clim_note = at_point(clim, point), clim_note or "climatology given by the caller"
    month = c["time"].dt.month

    def anom(x):
        return (x.groupby(month) - clim_p).drop_vars("month", errors="ignore")

    pops = {"generated": anom(g)}
    if t is not None:
        pops["true"] = anom(t)
    edges, counts = shared_histograms(pops, bins)
    ranks = None
    if t is not None:
        obs = t.rename(member="true_member")
        ranks = rank_histogram(g, obs, dim=["time", "true_member"], seed=seed)
    return PointInspection(
        point=point,
        years=decimal_years(c["time"].values),
        cond=c,
        generated=g,
        true=t,
        clim=clim_p,
        clim_note=clim_note,
        cond_anom=anom(c),
        generated_anom=pops["generated"],
        true_anom=pops.get("true"),
        quantiles={k: anomaly_quantiles(v, quantiles) for k, v in pops.items()},
        bin_edges=edges,
        counts=counts,
        rank_counts=ranks,
    )


@dataclass
class WindPoint:
    """Wind speed (m s-1) at one grid point through time: ``hours`` since the first frame,
    ``samples (sample, time)``, ``truth (time)``, ``mean (time)`` (the mean model, or None)."""

    point: GridPoint
    hours: np.ndarray
    samples: xr.DataArray
    truth: xr.DataArray
    mean: xr.DataArray | None


def hours_since_start(time: xr.DataArray) -> np.ndarray:
    """Hours of each stamp since the first (cftime or datetime64 stamps)."""
    values = np.asarray(time.values)
    return np.array([(v - values[0]) / np.timedelta64(1, "h") for v in values], dtype=float)


def inspect_wind_point(samples: xr.Dataset, truth: xr.Dataset, point: GridPoint) -> WindPoint:
    """Wind speed ``hypot(u, v)`` at ``point`` of the sampled fine wind and the true fine wind.

    ``samples``: ``u, v (sample, time, lat, lon)`` (a downscaler's output; its ``u_mean, v_mean``
    give ``mean`` when present); ``truth``: ``u, v (time, lat, lon)`` on the same grid and frames.
    """

    def speed(ds, u="u", v="v"):
        return np.hypot(at_point(ds[u], point), at_point(ds[v], point)).rename("wind_speed")

    mean = speed(samples, "u_mean", "v_mean") if "u_mean" in samples else None
    return WindPoint(
        point=point,
        hours=hours_since_start(truth["time"]),
        samples=speed(samples),
        truth=speed(truth),
        mean=mean,
    )
