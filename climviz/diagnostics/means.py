"""Area means, monthly climatologies and anomalies (xarray in, xarray out).

Area weights are ``cos(latitude)``; NaNs (e.g. land in an SST field) are
left out of both numerator and denominator.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from climviz.data.regions import Region, get_region


def area_weights(da: xr.DataArray, *, lat_dim: str = "lat") -> xr.DataArray:
    """``cos(lat)`` weights as a DataArray with dim ``(lat_dim,)``.

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros(3), dims="lat", coords={"lat": [-60.0, 0.0, 60.0]})
    >>> area_weights(da).values.round(3)
    array([0.5, 1. , 0.5])
    """
    lat = da[lat_dim]
    w = np.cos(np.deg2rad(np.asarray(lat.values, dtype=float)))
    return xr.DataArray(np.clip(w, 0.0, None), dims=(lat_dim,), coords={lat_dim: lat.values}, name="weights")


def area_mean(
    da: xr.DataArray,
    region: Region | str | tuple | None = None,
    *,
    lat_dim: str = "lat",
    lon_dim: str = "lon",
) -> xr.DataArray:
    """Cos-latitude weighted, NaN-aware mean over ``(lat_dim, lon_dim)``.

    Parameters
    ----------
    da : DataArray with dims ``(..., lat_dim, lon_dim)`` (any order).
    region : Region, name or box, optional
        Restrict to a box (see :func:`climviz.data.regions.get_region`); points
        outside get weight 0. ``None`` is the whole grid.

    Returns
    -------
    DataArray with dims ``(...)``.

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> lat = np.array([-45.0, 45.0]); lon = np.array([0.0, 180.0])
    >>> da = xr.DataArray([[0.0, 0.0], [1.0, 1.0]], dims=("lat", "lon"),
    ...                   coords={"lat": lat, "lon": lon})
    >>> float(area_mean(da))
    0.5
    >>> float(area_mean(da, "0,90,0,360"))
    1.0
    """
    w = area_weights(da, lat_dim=lat_dim)
    if region is not None:
        r = get_region(region)
        m = r.mask(da[lat_dim].values, da[lon_dim].values)
        if not m.any():
            # Region.select raises the informative error
            r.select(da, lat_dim=lat_dim, lon_dim=lon_dim)
        w = w * xr.DataArray(
            m.astype(float),
            dims=(lat_dim, lon_dim),
            coords={lat_dim: da[lat_dim].values, lon_dim: da[lon_dim].values},
        )
    # weighted() needs weights without NaN; it drops NaN data and renormalises
    out = da.weighted(w).mean(dim=(lat_dim, lon_dim), skipna=True)
    # all-NaN slices: weighted().mean gives NaN (0/0), which is what we want
    return out.assign_attrs(da.attrs)


def _base_slice(da: xr.DataArray, base: tuple[int, int] | None, time_dim: str) -> xr.DataArray:
    if base is None:
        return da
    start, end = int(base[0]), int(base[1])
    if start > end:
        raise ValueError(f"base period {base}: start year after end year")
    years = da[time_dim].dt.year
    sel = (years >= start) & (years <= end)
    if not bool(sel.any()):
        y = years.values
        raise ValueError(f"base period {start}-{end} is outside the series ({y.min()}-{y.max()})")
    return da.isel({time_dim: np.flatnonzero(sel.values)})


def climatology(
    da: xr.DataArray,
    *,
    base: tuple[int, int] | None = None,
    time_dim: str = "time",
) -> xr.DataArray:
    """Monthly climatology: the mean of each calendar month over the base period.

    Parameters
    ----------
    da : DataArray with dims ``(..., time_dim, ...)``; cftime or datetime64 time.
    base : (start_year, end_year), inclusive, optional
        ``None`` uses the whole series.

    Returns
    -------
    DataArray with ``time_dim`` replaced by ``month`` (1..12, only months present).

    Example
    -------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2000-01-01", periods=24, freq="MS") + pd.Timedelta(days=14)
    >>> da = xr.DataArray(np.r_[np.arange(12.0), np.arange(12.0) + 2], dims="time", coords={"time": t})
    >>> climatology(da).values[:3]
    array([1., 2., 3.])
    >>> climatology(da, base=(2001, 2001)).values[:3]
    array([2., 3., 4.])
    """
    sub = _base_slice(da, base, time_dim)
    return sub.groupby(f"{time_dim}.month").mean(time_dim, skipna=True)


def anomalies(
    da: xr.DataArray,
    *,
    base: tuple[int, int] | None = None,
    time_dim: str = "time",
) -> xr.DataArray:
    """Departures from the monthly climatology of ``base`` (see :func:`climatology`).

    Returns
    -------
    DataArray with the same dims and coords as ``da``.

    Example
    -------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2000-01-01", periods=24, freq="MS") + pd.Timedelta(days=14)
    >>> da = xr.DataArray(np.r_[np.arange(12.0), np.arange(12.0) + 2], dims="time", coords={"time": t})
    >>> anomalies(da).values[[0, 12]]
    array([-1.,  1.])
    """
    clim = climatology(da, base=base, time_dim=time_dim)
    out = da.groupby(f"{time_dim}.month") - clim
    if "month" in out.coords and "month" not in da.coords:
        out = out.drop_vars("month")
    return out.transpose(*da.dims).assign_attrs(da.attrs)
