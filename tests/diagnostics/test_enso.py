from pathlib import Path

import cftime
import numpy as np
import pytest
import xarray as xr

from climviz.diagnostics.enso import eofs, nino34_index, pattern_correlation


@pytest.fixture(scope="session")
def sst_ndjfm():
    """Real NDJFM Pacific SST anomalies 1963-2012 shipped in the eofs wheel (18 x 30; eofs is a test extra)."""
    import eofs as eofs_pkg

    path = Path(eofs_pkg.__file__).parent / "examples" / "example_data" / "sst_ndjfm_anom.nc"
    if not path.exists():
        pytest.fail(f"eofs example data missing at {path}")
    with xr.open_dataset(path) as ds:
        return ds["sst"].load()


def test_leading_eof_of_observed_sst_is_enso(sst_ndjfm):
    ds = eofs(sst_ndjfm, n=3, lat_dim="latitude", lon_dim="longitude")
    frac = ds.variance_fraction.values
    assert 0.40 <= frac[0] <= 0.60  # ~0.49 with sqrt(cos lat) weights
    assert np.all(np.diff(frac) < 0)
    pc1 = ds.pc.sel(mode=1)
    top2 = pc1.time.dt.year.values[np.argsort(-np.abs(pc1.values))[:2]]
    assert set(top2.tolist()) == {1983, 1998}  # the 1982/83 and 1997/98 El Ninos
    assert ds.eof.dims == ("mode", "latitude", "longitude") and ds.pc.dims == ("time", "mode")
    np.testing.assert_allclose(ds.pc.std("time", ddof=1), 1.0, rtol=1e-6)


def _eofs_package(da: xr.DataArray, n: int, lat_dim: str, lon_dim: str):
    """The GPL ``eofs`` package (a test-only oracle): covariance-map EOFs, unit-variance PCs, fractions."""
    from eofs.xarray import Eof

    lat = da[lat_dim].values.astype(float)
    clean = xr.DataArray(
        np.asarray(da.values, float),
        dims=("time", "lat", "lon"),
        coords={"time": np.arange(da.sizes["time"]), "lat": lat, "lon": da[lon_dim].values.astype(float)},
    )
    w = np.sqrt(np.clip(np.cos(np.deg2rad(lat)), 0.0, None))[:, None] * np.ones((1, clean.sizes["lon"]))
    solver = Eof(clean, weights=w)
    return (
        solver.eofsAsCovariance(neofs=n, pcscaling=1).values,
        solver.pcs(npcs=n, pcscaling=1).values,
        solver.varianceFraction(neigs=n).values,
    )


def _random_field_to_the_poles():
    """Noise on a grid with both poles, missing once at one point (that point is left out)."""
    lat = np.array([-90.0, -60.0, -30.0, 0.0, 30.0, 60.0, 90.0])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 7, 6))
    x[3, 2, 2] = np.nan
    return xr.DataArray(
        x,
        dims=("time", "lat", "lon"),
        coords={"time": np.arange(20), "lat": lat, "lon": np.arange(0, 360, 60.0)},
    )


@pytest.mark.parametrize("case", ["observed sst (land NaN)", "random, poles, one NaN"])
def test_eofs_match_the_eofs_package(case, sst_ndjfm):
    """Own SVD against the ``eofs`` package, to 1e-8 (they agree to ~1e-15); signs aligned per mode."""
    if case.startswith("observed"):
        da, lat_dim, lon_dim = sst_ndjfm, "latitude", "longitude"
    else:
        da, lat_dim, lon_dim = _random_field_to_the_poles(), "lat", "lon"
    n = 3
    ds = eofs(da, n=n, lat_dim=lat_dim, lon_dim=lon_dim)
    eof_ref, pc_ref, frac_ref = _eofs_package(da, n, lat_dim, lon_dim)
    sign = np.sign(np.nansum(ds.eof.values * eof_ref, axis=(1, 2)))
    np.testing.assert_allclose(ds.variance_fraction.values, frac_ref, rtol=1e-8)
    np.testing.assert_allclose(ds.pc.values, pc_ref * sign, rtol=0, atol=1e-8)
    scale = np.nanmax(np.abs(eof_ref))
    np.testing.assert_allclose(ds.eof.values, eof_ref * sign[:, None, None], rtol=0, atol=1e-8 * scale)
    assert np.array_equal(np.isnan(ds.eof.values), np.isnan(eof_ref))


def test_eofs_with_cftime_and_other_dim_names():
    rng = np.random.default_rng(2)
    t = [cftime.DatetimeProlepticGregorian(2000 + i // 12, i % 12 + 1, 15) for i in range(60)]
    lat = np.linspace(-10, 10, 5)
    lon = np.linspace(150, 270, 7)
    pattern = np.cos(np.deg2rad(lat))[:, None] * np.sin(np.deg2rad(lon - 120))[None, :]
    pc = rng.normal(size=60)
    da = xr.DataArray(
        (pc[:, None, None] * pattern + 0.05 * rng.normal(size=(60, 5, 7))).transpose(1, 2, 0),
        dims=("y", "x", "t"),
        coords={"t": t, "y": lat, "x": lon},
    )
    ds = eofs(da, n=1, time_dim="t", lat_dim="y", lon_dim="x")
    assert ds.variance_fraction.item() > 0.95
    assert isinstance(ds.t.values[0], cftime.datetime)
    assert abs(np.corrcoef(ds.pc.sel(mode=1), pc)[0, 1]) > 0.99
    with pytest.raises(ValueError, match="exactly dims"):
        eofs(da.expand_dims(member=2), time_dim="t", lat_dim="y", lon_dim="x")


def test_pattern_correlation_against_numpy_weighted_cov():
    rng = np.random.default_rng(5)
    lat = np.linspace(-60, 60, 9)
    lon = np.arange(0, 360, 30.0)
    a = rng.normal(size=(9, 12))
    b = 0.5 * a + rng.normal(size=(9, 12))
    w = (np.cos(np.deg2rad(lat))[:, None] * np.ones(12)).ravel()
    c = np.cov(a.ravel(), b.ravel(), aweights=w)
    ref = c[0, 1] / np.sqrt(c[0, 0] * c[1, 1])
    coords = {"lat": lat, "lon": lon}
    A = xr.DataArray(a, dims=("lat", "lon"), coords=coords)
    B = xr.DataArray(b, dims=("lat", "lon"), coords=coords)
    assert float(pattern_correlation(A, B)) == pytest.approx(ref, rel=1e-10)
    assert float(pattern_correlation(A, -B)) == pytest.approx(-ref, rel=1e-10)
    assert float(pattern_correlation(A, -B, abs=True)) == pytest.approx(ref, rel=1e-10)


def test_nino34_index_sees_only_the_box():
    t = [cftime.DatetimeProlepticGregorian(1990 + i // 12, i % 12 + 1, 15) for i in range(48)]
    lat = np.arange(-20.0, 21.0, 2.0)
    lon = np.arange(0.0, 360.0, 5.0)
    in_box = (np.abs(lat)[:, None] <= 5) & (lon[None, :] >= 190) & (lon[None, :] <= 240)
    signal = np.sin(2 * np.pi * np.arange(48) / 40.0)
    season = 2 * np.cos(2 * np.pi * np.arange(48) / 12)[:, None, None]
    field = season + np.where(in_box, signal[:, None, None], 0.0)
    field = field + np.where(in_box, 0.0, 5 * np.random.default_rng(0).normal(size=(48, 1, 1)))
    da = xr.DataArray(field, dims=("time", "lat", "lon"), coords={"time": t, "lat": lat, "lon": lon})
    idx = nino34_index(da)
    ref = (
        signal
        - xr.DataArray(signal, dims="time", coords={"time": t})
        .groupby("time.month")
        .mean()
        .values[np.arange(48) % 12]
    )
    np.testing.assert_allclose(idx.values, ref, atol=1e-12)
    sm = nino34_index(da, smooth=5)
    assert np.isnan(sm.values[:2]).all() and np.isfinite(sm.values[2:-2]).all()
    np.testing.assert_allclose(sm.values[10], idx.values[8:13].mean(), atol=1e-12)
