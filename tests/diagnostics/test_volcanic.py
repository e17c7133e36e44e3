import cftime
import numpy as np
import pytest
import xarray as xr

from climviz.data.forcing import ERUPTIONS_BY_NAME
from climviz.diagnostics.volcanic import volcanic_composite


def _series(start_year, end_year, values_fn, extra=None):
    t = [
        cftime.DatetimeProlepticGregorian(y, m, 15)
        for y in range(start_year, end_year + 1)
        for m in range(1, 13)
    ]
    ym = np.array([(d.year, d.month) for d in t])
    v = values_fn(ym[:, 0], ym[:, 1])
    da = xr.DataArray(v, dims="time", coords={"time": t}, name="tas")
    if extra:
        da = da.expand_dims(extra).copy()
    return da


def _pinatubo_step(years, months):
    stamp = years * 12 + months - 1
    p = ERUPTIONS_BY_NAME["Pinatubo"]
    start = p.year * 12 + p.month - 1
    return np.where((stamp >= start) & (stamp < start + 48), -0.3, 0.0)


def test_pinatubo_step_is_recovered():
    da = _series(1950, 2005, _pinatubo_step)
    c = volcanic_composite(da)
    assert c.dims == ("eruption", "lag")
    assert c.eruption.values.tolist() == ["Agung", "El Chichon", "Pinatubo"]  # others outside 1950-2005
    assert c.lag.values[0] == -60 and c.lag.values[-1] == 47
    pin = c.sel(eruption="Pinatubo")
    np.testing.assert_allclose(pin.sel(lag=slice(0, None)), -0.3, atol=1e-12)
    np.testing.assert_allclose(pin.sel(lag=slice(None, -1)), 0.0, atol=1e-12)
    np.testing.assert_allclose(c.sel(eruption=["Agung", "El Chichon"]), 0.0, atol=1e-12)


def test_seasonal_cycle_and_extra_dims():
    def fn(y, m):
        return _pinatubo_step(y, m) + 5.0 * np.cos(2 * np.pi * (m - 1) / 12) + 280.0

    da = _series(1980, 1999, fn, extra={"member": 2, "lat": 3})
    c = volcanic_composite(da, eruptions=[ERUPTIONS_BY_NAME["Pinatubo"], ERUPTIONS_BY_NAME["Krakatau"]])
    assert c.dims == ("eruption", "lag", "member", "lat") and c.eruption.values.tolist() == ["Pinatubo"]
    np.testing.assert_allclose(c.sel(lag=slice(0, None)), -0.3, atol=1e-10)
    # without per-month baselines the seasonal cycle stays in
    raw = volcanic_composite(da, eruptions=[ERUPTIONS_BY_NAME["Pinatubo"]], seasonal=False)
    assert float(np.abs(raw.sel(lag=slice(None, -1))).max()) == pytest.approx(5.0, rel=1e-6)


def test_short_series_pads_nan_and_skips_missing_baseline():
    da = _series(1960, 1993, _pinatubo_step)  # Agung (1963) has no 5-year baseline; Pinatubo runs off the end
    c = volcanic_composite(da)
    assert c.eruption.values.tolist() == ["El Chichon", "Pinatubo"]
    pin = c.sel(eruption="Pinatubo")
    n_after = (1993 - 1991) * 12 + (12 - 6) + 1  # Jun 1991 .. Dec 1993
    assert np.isfinite(pin.sel(lag=slice(0, None))).sum() == n_after
    with pytest.raises(ValueError, match="no eruption"):
        volcanic_composite(_series(2000, 2010, _pinatubo_step))
