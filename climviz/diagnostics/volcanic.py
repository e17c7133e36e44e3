"""Superposed-epoch (composite) response to volcanic eruptions."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xarray as xr

from climviz.data.forcing import ERUPTIONS, Eruption


def volcanic_composite(
    da: xr.DataArray,
    *,
    eruptions: Iterable[Eruption] = ERUPTIONS,
    before_years: int = 5,
    after_months: int = 48,
    time_dim: str = "time",
    seasonal: bool = True,
) -> xr.DataArray:
    """Anomalies around each eruption relative to the ``before_years`` before it.

    For each eruption whose month lies in the series and whose full baseline
    (the ``12 * before_years`` months just before the eruption month) is
    available, the monthly series is cut from ``lag = -12 * before_years`` to
    ``lag = after_months - 1`` months after the eruption month (``lag = 0``) and
    the baseline is subtracted: per calendar month (mean of the same calendar
    month over the baseline years) when ``seasonal=True``, which also removes
    the seasonal cycle, or the plain baseline mean when ``seasonal=False``.
    Lags past the end of the series are NaN. Eruptions outside the period, or
    too close to its start for a full baseline, are skipped.

    Parameters
    ----------
    da : DataArray ``(..., time, ...)`` monthly, cftime or datetime64 time.
    eruptions : iterable of :class:`climviz.data.forcing.Eruption`.

    Returns
    -------
    DataArray ``(eruption, lag, ...rest)`` with coords ``eruption`` (names),
    ``eruption_year`` and ``lag`` (months since eruption). Raises ``ValueError``
    if no eruption falls inside the series.

    Example
    -------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.date_range("1985-01-01", "1999-12-01", freq="MS") + pd.Timedelta(days=14)
    >>> da = xr.DataArray(np.where(t >= pd.Timestamp("1991-06-01"), -0.3, 0.0), dims="time",
    ...                   coords={"time": t})
    >>> c = volcanic_composite(da)
    >>> c.eruption.values.tolist(), float(c.sel(lag=12).squeeze()), float(c.sel(lag=-12).squeeze())
    (['Pinatubo'], -0.3, 0.0)
    """
    if time_dim not in da.dims:
        raise ValueError(f"dimension {time_dim!r} not in {da.dims}")
    nb = 12 * int(before_years)
    years = np.asarray(da[time_dim].dt.year.values)
    months = np.asarray(da[time_dim].dt.month.values)
    stamp = years * 12 + (months - 1)
    if np.any(np.diff(stamp) != 1):
        raise ValueError("volcanic_composite needs a contiguous monthly series")
    lags = np.arange(-nb, int(after_months))
    rest = [d for d in da.dims if d != time_dim]
    da = da.transpose(time_dim, *rest)
    pieces, names, eyears = [], [], []
    for e in eruptions:
        i0 = np.flatnonzero(stamp == e.year * 12 + (e.month - 1))
        if i0.size == 0 or i0[0] < nb:
            continue
        i0 = int(i0[0])
        base = da.isel({time_dim: slice(i0 - nb, i0)})
        idx = i0 + lags
        valid = idx < da.sizes[time_dim]
        seg = da.isel({time_dim: np.clip(idx, 0, da.sizes[time_dim] - 1)})
        seg = seg.where(xr.DataArray(valid, dims=time_dim))
        if seasonal:
            clim = base.groupby(f"{time_dim}.month").mean(time_dim)
            mon = xr.DataArray((e.month - 1 + lags) % 12 + 1, dims=time_dim)
            ref = clim.sel(month=mon).drop_vars("month")
        else:
            ref = base.mean(time_dim)
        anom = seg - ref
        anom = anom.drop_vars([c for c in anom.coords if time_dim in anom[c].dims or c == "month"])
        pieces.append(anom.rename({time_dim: "lag"}).assign_coords(lag=lags))
        names.append(e.name)
        eyears.append(e.year)
    if not pieces:
        t = da[time_dim].values
        raise ValueError(
            f"no eruption with a full {before_years}-year baseline inside the series ({t[0]} .. {t[-1]})"
        )
    out = xr.concat(pieces, dim="eruption").assign_coords(
        eruption=("eruption", names), eruption_year=("eruption", eyears)
    )
    out["lag"].attrs.update(units="months", long_name="months since eruption")
    return out.rename(da.name or "anomaly").assign_attrs(
        da.attrs, baseline=f"{before_years} years before eruption"
    )
