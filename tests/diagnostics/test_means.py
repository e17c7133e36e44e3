import cftime
import numpy as np
import pytest
import xarray as xr

from climviz.data.grid import global_grid
from climviz.data.regions import REGIONS
from climviz.diagnostics.means import anomalies, area_mean, climatology


def _monthly(start_year, nyears):
    return [
        cftime.DatetimeProlepticGregorian(y, m, 15)
        for y in range(start_year, start_year + nyears)
        for m in range(1, 13)
    ]


def _field(values, lat, lon):
    return xr.DataArray(values, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


def test_constant_field_and_nan_awareness():
    lat, lon = global_grid(32, 64)
    f = np.full((32, 64), 3.5)
    assert float(area_mean(_field(f, lat, lon))) == pytest.approx(3.5, abs=1e-12)
    f[:5, :] = np.nan  # NaNs must be ignored, not treated as zeros
    assert float(area_mean(_field(f, lat, lon))) == pytest.approx(3.5, abs=1e-12)


def test_hemispheres_and_sin2_lat():
    lat, lon = global_grid(32, 64)
    nh = np.where(lat > 0, 1.0, 0.0)[:, None] * np.ones(64)
    assert float(area_mean(_field(nh, lat, lon))) == pytest.approx(0.5, abs=1e-12)
    # the spherical mean of sin^2(lat) is 1/3; cos-lat weighting on 32 Gaussian rows is close
    s2 = np.sin(np.deg2rad(lat))[:, None] ** 2 * np.ones(64)
    assert float(area_mean(_field(s2, lat, lon))) == pytest.approx(1 / 3, rel=2e-3)
    # a region: mean of the NH indicator over the Arctic is 1, over the Tropics 0.5
    assert float(area_mean(_field(nh, lat, lon), "Arctic")) == pytest.approx(1.0)
    assert float(area_mean(_field(nh, lat, lon), "Tropics")) == pytest.approx(0.5, abs=1e-12)


def test_region_crossing_zero_equals_rolled_computation():
    lat, lon = global_grid(48, 96)
    rng = np.random.default_rng(3)
    da = xr.DataArray(
        rng.normal(size=(2, 48, 96)), dims=("time", "lat", "lon"), coords={"lat": lat, "lon": lon}
    )
    got = area_mean(da, "Europe")
    # independent: relabel longitudes to -180..180, slice a plain box, weight by hand
    rolled = da.assign_coords(lon=np.where(lon >= 180, lon - 360, lon)).sortby("lon")
    box = rolled.sel(lat=slice(35, 72), lon=slice(-10, 40))
    w = np.cos(np.deg2rad(box.lat.values))[:, None] * np.ones(box.sizes["lon"])
    ref = (box.values * w).sum(axis=(1, 2)) / w.sum()
    np.testing.assert_allclose(got.values, ref, rtol=1e-12)
    assert box.sizes["lon"] > 5  # the box really spans both sides of 0E
    assert (box.lon.values < 0).any() and (box.lon.values > 0).any()
    # and differs from the complementary non-wrapping box 40E..350E
    assert not np.allclose(got.values, area_mean(da, (35, 72, 40, 350)).values)


def test_anomalies_have_zero_monthly_mean_over_base():
    rng = np.random.default_rng(0)
    t = _monthly(1850, 8)
    season = np.tile(10 * np.sin(2 * np.pi * np.arange(12) / 12), 8)
    da = xr.DataArray(season[:, None] + rng.normal(size=(96, 3)), dims=("time", "x"), coords={"time": t})
    anom = anomalies(da, base=(1852, 1855))
    assert anom.dims == da.dims and anom.sizes == da.sizes
    base = anom.isel(time=(anom.time.dt.year >= 1852) & (anom.time.dt.year <= 1855))
    np.testing.assert_allclose(base.groupby("time.month").mean("time").values, 0.0, atol=1e-12)
    # outside the base the monthly means are not zero (noise), and the seasonal cycle is gone
    outside = anom.isel(time=anom.time.dt.year < 1852)
    assert np.abs(outside.groupby("time.month").mean("time").values).max() > 0.05
    assert float(np.abs(anom).max()) < 6.0


def test_climatology_hand_case():
    t = _monthly(2000, 2)
    da = xr.DataArray(np.r_[np.arange(12.0), np.arange(12.0) + 4], dims="time", coords={"time": t})
    clim = climatology(da)
    np.testing.assert_allclose(clim.sel(month=1), 2.0)
    np.testing.assert_allclose(climatology(da, base=(2001, 2001)).sel(month=3), 6.0)
    with pytest.raises(ValueError, match="outside"):
        climatology(da, base=(1990, 1995))


def test_empty_region_raises():
    lat, lon = global_grid(8, 16)
    with pytest.raises(ValueError, match="selects no points"):
        area_mean(_field(np.ones((8, 16)), lat, lon), (1.0, 2.0, 3.0, 4.0))
    assert REGIONS["Global"].mask(lat, lon).all()
