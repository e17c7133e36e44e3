"""Spectral regridding: analytic harmonics, torch-harmonics as reference, means, refusals, the loader."""

from __future__ import annotations

import cftime
import numpy as np
import pytest
import torch
import torch_harmonics as th
import xarray as xr

from climviz.data.canonical import DataError
from climviz.data.grid import gaussian_latitudes, global_grid
from climviz.data.loader import open_ensemble, open_run
from climviz.data.regrid import global_grid_of, quadrature_weights, regrid

POLES_73 = np.linspace(90.0, -90.0, 73)  # descending, as many files are
LON_PM180 = np.arange(-180.0, 180.0, 2.5)  # -180 .. 177.5


def _centred(nlat):
    return -90.0 + (np.arange(nlat) + 0.5) * 180.0 / nlat


def _field(values, lat, lon, **coords):
    dims = (*coords, "lat", "lon")
    return xr.DataArray(values, dims=dims, coords={**coords, "lat": lat, "lon": lon}, name="tas")


def _y32(lat, lon):
    """Re Y_3^2 up to a constant: cos(lat)^2 sin(lat) cos(2 lon)."""
    la, lo = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None]
    return np.cos(la) ** 2 * np.sin(la) * np.cos(2 * lo)


def _y22(lat, lon):
    """Re Y_2^2 up to a constant: cos(lat)^2 cos(2 lon)."""
    la, lo = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None]
    return np.cos(la) ** 2 * np.cos(2 * lo)


@pytest.mark.parametrize("harmonic", [_y32, _y22])
@pytest.mark.parametrize(
    "src_lat, src_lon", [(POLES_73, LON_PM180), (_centred(24), np.arange(48) * 7.5 + 3.75)]
)
def test_single_harmonic_on_regular_grid_lands_on_the_analytic_values(harmonic, src_lat, src_lon):
    out = regrid(_field(harmonic(src_lat, src_lon), src_lat, src_lon), *global_grid(48, 96))
    np.testing.assert_allclose(out["lat"], gaussian_latitudes(48), atol=1e-12)
    np.testing.assert_allclose(
        out.values, harmonic(out["lat"].values, out["lon"].values), atol=2e-6
    )  # float32
    assert out.attrs["regridding"].startswith("regridded from regular")


def test_note_names_both_grids_and_the_truncation():
    out = regrid(_field(_y32(POLES_73, LON_PM180), POLES_73, LON_PM180), *global_grid(48, 96))
    assert out.attrs["regridding"] == (
        "regridded from regular 73x144 (equiangular, poles included) to Gaussian "
        "48x96 by spherical-harmonic transform, truncated at degree 47 (T47)"
    )
    out = regrid(
        _field(_y32(_centred(24), np.arange(48) * 7.5), _centred(24), np.arange(48) * 7.5),
        *global_grid(48, 96),
    )
    assert "regular 24x48 (equiangular, cell-centred, no poles) to Gaussian 48x96" in out.attrs["regridding"]
    assert "degree 22 (T22)" in out.attrs["regridding"]


def _band_limited(nlat, nlon, degrees, seed):
    """A random field with degrees l < ``degrees`` on a Gaussian grid (torch-harmonics synthesis), and its coefficients."""
    rng = np.random.default_rng(seed)
    coeff = rng.normal(size=(degrees, degrees)) + 1j * rng.normal(size=(degrees, degrees))
    coeff = np.tril(coeff)  # m <= l
    coeff[:, 0] = coeff[:, 0].real
    coeff = torch.from_numpy(coeff)
    isht = th.InverseRealSHT(nlat, nlon, lmax=degrees, mmax=degrees, grid="legendre-gauss").double()
    return isht(coeff).numpy()[::-1].copy(), coeff  # torch-harmonics runs north to south


def test_agrees_with_torch_harmonics_synthesis_on_an_equiangular_target():
    values, coeff = _band_limited(32, 64, 20, seed=1)
    lat, lon = global_grid(32, 64)
    out = regrid(_field(values, lat, lon), np.linspace(-90, 90, 33), np.arange(64) * 5.625)
    ref = th.InverseRealSHT(33, 64, lmax=20, mmax=20, grid="equiangular").double()(coeff).numpy()[::-1]
    np.testing.assert_allclose(out.values, ref, atol=2e-5 * np.abs(ref).max())


def test_round_trip_of_a_band_limited_field():
    values, _ = _band_limited(48, 96, 40, seed=2)
    lat, lon = global_grid(48, 96)
    up = regrid(_field(values, lat, lon), POLES_73, LON_PM180)
    back = regrid(up, lat, lon)
    assert up.shape == (73, 144) and back.shape == (48, 96)
    np.testing.assert_allclose(back.values, values, atol=5e-6 * np.abs(values).max())


def _cell_area_mean(values, lat):
    """Area-weighted mean with exact cell areas of an evenly spaced grid (half cells at the poles)."""
    step = abs(lat[1] - lat[0])
    north = np.deg2rad(np.clip(lat + step / 2, -90, 90))
    south = np.deg2rad(np.clip(lat - step / 2, -90, 90))
    area = np.sin(north) - np.sin(south)
    return float((values.mean(-1) * area).sum() / area.sum())


@pytest.mark.parametrize("src_lat", [POLES_73, _centred(72)])
def test_global_area_mean_is_kept_for_a_rough_field(src_lat):
    rng = np.random.default_rng(3)
    lat = np.sort(src_lat)
    values = 288.0 - 30.0 * np.sin(np.deg2rad(lat))[:, None] ** 2 + rng.normal(0, 5.0, (lat.size, 144))
    out = regrid(_field(values, lat, np.arange(144) * 2.5), *global_grid(48, 96))
    gauss_w = np.polynomial.legendre.leggauss(48)[1]
    target_mean = float((out.values.astype(float).mean(-1) * gauss_w).sum() / gauss_w.sum())
    w = quadrature_weights(global_grid_of(lat, np.arange(144) * 2.5))
    assert (
        abs(target_mean - float((values.mean(-1) * w).sum() / w.sum())) < 1e-4
    )  # kept exactly (float32 out)
    # exact cell areas (an independent weighting) differ from the quadrature's by ~1.6e-3 K on this noise;
    # the noise alone averages to about 5 K / sqrt(73 * 144) = 0.05 K, so a wrong weight would show
    assert abs(target_mean - _cell_area_mean(values, lat)) < 5e-3
    assert abs(values.mean() - _cell_area_mean(values, lat)) > 1.0  # unweighted, it would be 5 K off


def test_quadrature_weights_integrate_the_sphere():
    for lat in (gaussian_latitudes(24), np.linspace(-90, 90, 25), _centred(24)):
        w = quadrature_weights(global_grid_of(lat, np.arange(48) * 7.5))
        x = np.sin(np.deg2rad(lat))
        assert abs(w.sum() - 2.0) < 1e-12
        assert abs((w * x**2).sum() - 2.0 / 3.0) < 1e-12  # integral of x^2 over [-1, 1]


@pytest.mark.parametrize(
    "lat, lon, why",
    [
        (np.arange(20.0, 61.0, 2.5), np.arange(0.0, 90.0, 2.5), "cover 90 of 360 degrees"),
        (np.arange(20.0, 61.0, 2.5), np.arange(144) * 2.5, "do not reach the poles"),
        (np.linspace(-90, 90, 73), np.arange(143) * 2.5, "missing the periodic longitude"),
        (np.arange(-87.5, 90.1, 2.5), np.arange(144) * 2.5, "neither include both poles nor sit half a step"),
        (
            np.r_[-80.0, -50.0, -10.0, 0.0, 30.0, 85.0],
            np.arange(16) * 22.5,
            "unevenly spaced and not Gaussian",
        ),
        (
            np.linspace(-90, 90, 9),
            np.r_[np.arange(8) * 20.0, np.arange(8) * 25.0 + 180.0],
            "not evenly spaced",
        ),
    ],
)
def test_regional_or_irregular_grids_are_refused_naming_why(lat, lon, why):
    da = _field(np.full((lat.size, lon.size), 280.0), lat, lon)
    with pytest.raises(DataError, match=why) as err:
        regrid(da, *global_grid(24, 48), where="box.nc")
    assert "box.nc" in str(err.value) and "global grid" in str(err.value)


def test_on_the_target_grid_already_nothing_happens():
    lat, lon = global_grid(24, 48)
    da = _field(np.ones((24, 48)), lat, lon)
    assert regrid(da, lat, lon) is da


def test_lazy_data_stay_lazy_and_agree_with_eager():
    values = np.stack([_y32(POLES_73, LON_PM180) * k for k in (1.0, 2.0, 3.0)])
    da = _field(values, POLES_73, LON_PM180, time=np.arange(3))
    lazy = regrid(da.chunk({"time": 1, "lat": 10}), *global_grid(24, 48))
    assert lazy.chunks is not None
    np.testing.assert_allclose(lazy.values, regrid(da, *global_grid(24, 48)).values, atol=1e-6)


# ----------------------------------------------------------------------------- a colleague's file


def _colleagues_file(path, nlat=48, nlon=96):
    """3 realizations x 24 months, regular cell-centred grid, descending latitude, -180..180, degC, noleap."""
    lat = _centred(nlat)[::-1]
    lon = -180.0 + np.arange(nlon) * 360.0 / nlon
    time = [cftime.DatetimeNoLeap(2000 + m // 12, m % 12 + 1, 15) for m in range(24)]
    season = np.cos(2 * np.pi * np.arange(24) / 12)[None, :, None, None]
    field = 15.0 + 10.0 * _y22(lat, lon) + 20.0 * _y32(lat, lon) * season + np.arange(3)[:, None, None, None]
    ds = xr.Dataset(
        {
            "t2m": (
                ("realization", "time", "latitude", "longitude"),
                field.astype(np.float32),
                {"units": "degC", "standard_name": "air_temperature"},
            )
        },
        coords={"realization": [1, 2, 3], "time": time, "latitude": lat, "longitude": lon},
    )
    ds.to_netcdf(path)
    return path


def test_colleagues_file_opens_regridded_through_the_loader(tmp_path):
    path = _colleagues_file(tmp_path / "colleague.nc")
    lat, lon = global_grid(24, 48)
    tas = open_ensemble(path, grid=(lat, lon))
    assert tas.dims == ("member", "time", "lat", "lon") and tas.shape == (3, 24, 24, 48)
    assert tas.attrs["units"] == "K" and tas["time"].values[0].calendar == "noleap"
    assert tas.attrs["regridding"] == (
        "regridded from regular 48x96 (equiangular, cell-centred, no poles) to Gaussian 24x48 by "
        "spherical-harmonic transform, truncated at degree 23 (T23)"
    )
    assert "regridded" in tas.attrs["history"]
    season = np.cos(2 * np.pi * np.arange(24) / 12)[None, :, None, None]
    expected = (
        288.15 + 10.0 * _y22(lat, lon) + 20.0 * _y32(lat, lon) * season + np.arange(3)[:, None, None, None]
    )
    np.testing.assert_allclose(tas.values, expected, atol=1e-4)  # float32 K
    run = open_run(path, member=2, grid=(lat, lon))
    assert run.dims == ("time", "lat", "lon") and "regridding" in run.attrs
    np.testing.assert_allclose(run.values, expected[1], atol=1e-4)


def test_without_grid_the_loader_leaves_the_grid_alone(tmp_path):
    tas = open_ensemble(_colleagues_file(tmp_path / "colleague.nc"))
    assert tas.shape == (3, 24, 48, 96) and "regridding" not in tas.attrs
