"""ENSO diagnostics: the Nino3.4 index, EOFs and pattern correlation."""

from __future__ import annotations

import numpy as np
import xarray as xr

from climviz.data.regions import REGIONS, Region, get_region
from climviz.diagnostics.means import anomalies, area_mean, area_weights


def nino34_index(
    da: xr.DataArray,
    *,
    base: tuple[int, int] | None = None,
    smooth: int | None = None,
    time_dim: str = "time",
    lat_dim: str = "lat",
    lon_dim: str = "lon",
) -> xr.DataArray:
    """Nino3.4 index: area mean (cos-lat) over 5S-5N, 170W-120W of monthly anomalies.

    Parameters
    ----------
    da : DataArray ``(..., time, lat, lon)``, SST or near-surface temperature.
    base : (start_year, end_year), optional
        Base period of the monthly climatology; ``None`` is the whole series.
    smooth : int, optional
        Length in months of a centred running mean (3 for the ONI, 5 for the
        classic Trenberth index). Ends become NaN.

    Returns
    -------
    DataArray ``(..., time)`` in the units of ``da``, named ``nino34``.

    Example
    -------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2000-01-01", periods=24, freq="MS") + pd.Timedelta(days=14)
    >>> da = xr.DataArray(np.zeros((24, 3, 4)), dims=("time", "lat", "lon"),
    ...                   coords={"time": t, "lat": [-2.0, 0.0, 2.0], "lon": [180.0, 200.0, 220.0, 260.0]})
    >>> da[12:, :, 1:3] = 1.0
    >>> nino34_index(da).values[[0, 12]]
    array([-0.5,  0.5])
    """
    box = area_mean(da, REGIONS["Nino3.4"], lat_dim=lat_dim, lon_dim=lon_dim)
    idx = anomalies(box, base=base, time_dim=time_dim)
    if smooth:
        idx = idx.rolling({time_dim: int(smooth)}, center=True).mean()
    return idx.rename("nino34").assign_attrs(units=da.attrs.get("units", ""), long_name="Nino3.4 index")


def nino34_anomalies(
    da: xr.DataArray,
    *,
    time_dim: str = "time",
    lat_dim: str = "lat",
    lon_dim: str = "lon",
) -> xr.DataArray:
    """Nino3.4 anomalies of each series: the box mean with its own monthly climatology and linear
    trend removed (one least-squares fit of 12 calendar-month means and a slope).

    What the time-behaviour diagnostics (spectrum, band variances, autocorrelation) want:
    a forced warming trend or a seasonal cycle left in would put power at the longest
    periods and at 1 year. Each member is fitted on its own.

    Parameters
    ----------
    da : DataArray ``(..., time, lat, lon)`` (the Nino3.4 box mean is taken, cos-lat
        weighted) or an index ``(..., time)`` already averaged over the box (e.g.
        :func:`climviz.data.observed.nino34_observed`). Monthly, no NaN.

    Returns
    -------
    DataArray ``(..., time)`` named ``nino34`` in the units of ``da``.

    Example
    -------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("2000-01-01", periods=48, freq="MS") + pd.Timedelta(days=14)
    >>> x = 0.01 * np.arange(48) + np.tile(np.arange(12.0), 4) + np.sin(2 * np.pi * np.arange(48) / 7)
    >>> a = nino34_anomalies(xr.DataArray(x, dims="time", coords={"time": t}))
    >>> bool(np.abs(a.values - np.sin(2 * np.pi * np.arange(48) / 7)).max() < 0.35)
    True
    """
    if lat_dim in da.dims and lon_dim in da.dims:
        da = area_mean(da, REGIONS["Nino3.4"], lat_dim=lat_dim, lon_dim=lon_dim)
    if time_dim not in da.dims:
        raise ValueError(f"dimension {time_dim!r} not in {da.dims}")
    months = np.asarray(da[time_dim].dt.month.values)
    n = months.size
    design = np.column_stack([months[:, None] == np.arange(1, 13)[None, :], np.linspace(-1.0, 1.0, n)])
    design = design[:, np.flatnonzero(design.any(0))].astype(float)  # drop calendar months not present

    def kern(y):
        flat = y.reshape(-1, n).T
        coef, *_ = np.linalg.lstsq(design, flat, rcond=None)
        return (flat - design @ coef).T.reshape(y.shape)

    out = xr.apply_ufunc(
        kern,
        da.astype(float),
        input_core_dims=[[time_dim]],
        output_core_dims=[[time_dim]],
        dask="parallelized",
        output_dtypes=[float],
    )
    return (
        out.transpose(*da.dims)
        .rename("nino34")
        .assign_attrs(
            units=da.attrs.get("units", ""),
            long_name="Nino3.4 anomaly (monthly climatology and linear trend removed)",
        )
    )


def _eof_kernel(x: np.ndarray, weights: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EOF analysis of ``x [nt, ny, nx]`` weighted by ``weights [ny, nx]``; no sign fixing.

    With ``A`` the time-centred anomalies times the weights (points that are NaN
    left out) and ``A = U S V^T`` its SVD, the eigenvalues of the covariance are
    ``S^2 / (nt - 1)``. Returns

    - ``eof [n, ny, nx]``: covariance of the unweighted anomalies with each
      unit-variance PC (NaN where ``x`` is), units of ``x``;
    - ``pc [nt, n]``: ``U sqrt(nt - 1)``, unit variance (ddof 1);
    - ``frac [n]``: ``S^2 / sum(S^2)`` over all modes.
    """
    nt = x.shape[0]
    anom = (x - x.mean(axis=0)).reshape(nt, -1)
    ok = ~np.isnan(anom[0])  # the time mean carries a NaN at any time step to all of them
    u, s, _ = np.linalg.svd(anom[:, ok] * weights.reshape(-1)[ok], full_matrices=False)
    if n > s.size:
        raise ValueError(f"n={n} modes: the field has only {s.size} (time steps or valid points)")
    pc = u[:, :n] * np.sqrt(nt - 1.0)
    eof = np.full((n, anom.shape[1]), np.nan)
    eof[:, ok] = pc.T @ anom[:, ok] / (nt - 1.0)
    return eof.reshape(n, *x.shape[1:]), pc, s[:n] ** 2 / np.sum(s**2)


def eofs(
    da: xr.DataArray,
    *,
    n: int = 3,
    time_dim: str = "time",
    lat_dim: str = "lat",
    lon_dim: str = "lon",
    region: Region | str | tuple | None = None,
) -> xr.Dataset:
    """Empirical orthogonal functions with ``sqrt(cos lat)`` weights (one SVD, :func:`_eof_kernel`).

    The time mean is removed first (pass anomalies if you want the seasonal
    cycle gone). A point missing at any time step (e.g. land) is left out and
    is NaN in ``eof``. Scalings are those of the ``eofs`` package's
    ``Eof(..., weights=sqrt(cos lat))`` (tests/diagnostics/test_enso.py checks
    the two agree to 1e-8).

    Parameters
    ----------
    da : DataArray with exactly the dims ``(time_dim, lat_dim, lon_dim)`` (any order).
        Stack ensemble members into the time dimension first if you want a
        joint analysis.
    n : int
        Number of modes.
    region : Region, name or box, optional
        Cut the field to this box first (:meth:`Region.select`).

    Returns
    -------
    xr.Dataset with

    - ``eof (mode, lat, lon)``: the modes as covariance maps, in units of ``da``
      per standard deviation of the PC: the covariance of the (unweighted) anomalies
      with the unit-variance PC, as ``eofs``' ``eofsAsCovariance(pcscaling=1)``;
    - ``pc (time, mode)``: principal components scaled to unit variance;
    - ``variance_fraction (mode)``: fraction of the (weighted) total variance
      (eigenvalue over the sum of all eigenvalues).

    ``mode`` runs 1..n. The sign of each mode is fixed so that the area-weighted
    mean of its pattern is positive (El Nino positive for ENSO-dominated boxes).

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> pattern = np.outer(np.ones(4), np.hanning(6) + 0.1)
    >>> pc = rng.normal(size=40)
    >>> da = xr.DataArray(pc[:, None, None] * pattern + 0.01 * rng.normal(size=(40, 4, 6)),
    ...                   dims=("time", "lat", "lon"),
    ...                   coords={"time": np.arange(40), "lat": [-3.0, -1.0, 1.0, 3.0],
    ...                           "lon": np.arange(6) * 10.0})
    >>> ds = eofs(da, n=2)
    >>> bool(ds.variance_fraction.sel(mode=1) > 0.99)
    True
    """
    if region is not None:
        da = get_region(region).select(da, lat_dim=lat_dim, lon_dim=lon_dim)
    dims = (time_dim, lat_dim, lon_dim)
    if set(da.dims) != set(dims):
        raise ValueError(f"eofs needs exactly dims {dims}, got {da.dims}; stack or select extra dims first")
    da = da.transpose(*dims)
    nt = da.sizes[time_dim]
    if n < 1 or n > nt:
        raise ValueError(f"n={n} modes: need 1 <= n <= number of time steps ({nt})")
    lat = np.asarray(da[lat_dim].values, dtype=float)
    wts = np.sqrt(np.clip(np.cos(np.deg2rad(lat)), 0.0, None))[:, None] * np.ones((1, da.sizes[lon_dim]))
    eof, pc, frac = _eof_kernel(np.asarray(da.values, dtype=float), wts, n)
    # sign convention: area-weighted mean of each pattern positive
    wlat = np.cos(np.deg2rad(lat))[:, None]
    s = np.sign(np.nansum(eof * wlat, axis=(1, 2)))
    s[s == 0] = 1.0
    eof = eof * s[:, None, None]
    pc = pc * s[None, :]
    mode = np.arange(1, n + 1)
    coords = {
        "mode": mode,
        time_dim: da[time_dim].values,
        lat_dim: da[lat_dim].values,
        lon_dim: da[lon_dim].values,
    }
    return xr.Dataset(
        {
            "eof": xr.DataArray(
                eof,
                dims=("mode", lat_dim, lon_dim),
                attrs={"units": da.attrs.get("units", ""), "long_name": "EOF as covariance map"},
            ),
            "pc": xr.DataArray(
                pc, dims=(time_dim, "mode"), attrs={"long_name": "principal component (unit variance)"}
            ),
            "variance_fraction": xr.DataArray(
                frac, dims=("mode",), attrs={"long_name": "fraction of variance"}
            ),
        },
        coords={k: v for k, v in coords.items()},
        attrs={"weights": "sqrt(cos(lat))"},
    )


def _pattern_corr_kernel(a: np.ndarray, b: np.ndarray, w: np.ndarray, take_abs: bool) -> np.ndarray:
    """Weighted centred correlation over the last two axes. a, b: ``[..., nlat, nlon]``, w ``[nlat, nlon]``."""
    ok = np.isfinite(a) & np.isfinite(b)
    ww = np.where(ok, w, 0.0)
    a0 = np.where(ok, a, 0.0)
    b0 = np.where(ok, b, 0.0)
    sw = ww.sum(axis=(-2, -1), keepdims=True)
    am = (ww * a0).sum(axis=(-2, -1), keepdims=True) / sw
    bm = (ww * b0).sum(axis=(-2, -1), keepdims=True) / sw
    da_, db_ = np.where(ok, a0 - am, 0.0), np.where(ok, b0 - bm, 0.0)
    cov = (ww * da_ * db_).sum(axis=(-2, -1))
    var = np.sqrt((ww * da_**2).sum(axis=(-2, -1)) * (ww * db_**2).sum(axis=(-2, -1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / var
    return np.abs(r) if take_abs else r


def pattern_correlation(
    a: xr.DataArray,
    b: xr.DataArray,
    *,
    lat_dim: str = "lat",
    lon_dim: str = "lon",
    abs: bool = False,
) -> xr.DataArray:
    """Centred, cos-lat weighted pattern correlation over ``(lat_dim, lon_dim)``.

    Points where either field is NaN are left out. ``abs=True`` returns
    ``|r|``, which is what you want for EOFs (their sign is arbitrary).

    Parameters
    ----------
    a, b : DataArrays ``(..., lat, lon)`` on the same grid (broadcast over ``...``).

    Returns
    -------
    DataArray ``(...)`` in [-1, 1].

    Example
    -------
    >>> import numpy as np, xarray as xr
    >>> c = {"lat": [-10.0, 0.0, 10.0], "lon": [0.0, 90.0, 180.0, 270.0]}
    >>> x = xr.DataArray(np.arange(12.0).reshape(3, 4), dims=("lat", "lon"), coords=c)
    >>> round(float(pattern_correlation(x, 2 * x + 1)), 6), round(float(pattern_correlation(x, -x, abs=True)), 6)
    (1.0, 1.0)
    """
    a, b = xr.align(a, b, join="exact")
    w = area_weights(a, lat_dim=lat_dim)
    w2 = (w * xr.ones_like(a[lon_dim], dtype=float)).transpose(lat_dim, lon_dim).values
    return xr.apply_ufunc(
        _pattern_corr_kernel,
        a,
        b,
        input_core_dims=[[lat_dim, lon_dim], [lat_dim, lon_dim]],
        kwargs={"w": w2, "take_abs": bool(abs)},
        dask="parallelized",
        output_dtypes=[float],
    ).rename("pattern_correlation")
