"""Spherical-harmonic low-pass and coarsening, checked against analytic harmonics."""

import numpy as np
import pytest
import torch
import torch_harmonics as th
import xarray as xr
from scipy.special import lpmv

from climviz.data.coarsen import coarsen, grid_kind, lowpass_gain, spectral_lowpass
from climviz.data.grid import gaussian_latitudes, global_grid, regular_longitudes

LAT, LON = global_grid(32, 64)


def harmonic(l, m, lat, lon):
    """Real (unnormalised) spherical harmonic P_l^m(sin lat) cos(m lon), from scipy."""
    return lpmv(m, l, np.sin(np.deg2rad(lat)))[:, None] * np.cos(m * np.deg2rad(lon))[None, :]


def field(values, lat=LAT, lon=LON):
    return xr.DataArray(values, dims=("lat", "lon"), coords={"lat": lat, "lon": lon}, name="x")


def degree_power(values, lat, kind="legendre-gauss"):
    """Power per degree ``[nlat]`` by an exact (full-resolution) forward SHT, north first."""
    x = torch.from_numpy(np.ascontiguousarray(values[::-1] if lat[0] < lat[-1] else values))
    c = th.RealSHT(*values.shape, grid=kind).double()(x)
    w = torch.ones(c.shape[-1], dtype=torch.float64) * 2
    w[0] = 1
    return ((c.abs() ** 2) * w).sum(-1).numpy()


def test_gain_is_a_raised_cosine():
    g = lowpass_gain(np.arange(12), lmax_keep=10, taper=0.7)
    np.testing.assert_allclose(g[:8], 1.0)  # l <= 7
    np.testing.assert_allclose(g[8], 0.5 * (1 + np.cos(np.pi * 1 / 3)))
    np.testing.assert_allclose(g[10:], 0.0)
    assert np.all(np.diff(g) <= 0)
    np.testing.assert_allclose(
        lowpass_gain(np.arange(12), lmax_keep=10, taper=1.0), (np.arange(12) < 10) * 1.0
    )


@pytest.mark.parametrize("l, m", [(2, 0), (5, 3), (7, 2), (9, 9)])
def test_single_harmonic_below_cutoff_passes_with_analytic_gain(l, m):
    x = harmonic(l, m, LAT, LON)
    out = spectral_lowpass(field(x), lmax_keep=10, taper=0.6)
    gain = lowpass_gain(l, lmax_keep=10, taper=0.6)
    assert (l < 6) == (gain == 1.0)
    np.testing.assert_allclose(out.values, gain * x, atol=1e-10 * np.abs(x).max())


@pytest.mark.parametrize("l, m", [(10, 0), (12, 5), (20, 1), (31, 17)])
def test_single_harmonic_above_cutoff_is_removed(l, m):
    x = harmonic(l, m, LAT, LON)
    out = spectral_lowpass(field(x), lmax_keep=10)
    assert np.mean(out.values**2) < 1e-6 * np.mean(x**2)


def test_coarsen_samples_band_limited_field_exactly_on_coarse_gaussian_grid():
    terms = [(1, 0, 2.0), (3, 1, -0.7), (5, 4, 0.3), (6, 2, 0.5), (7, 5, 0.2), (13, 3, 1.0)]
    x = sum(a * harmonic(l, m, LAT, LON) for l, m, a in terms)
    da = xr.DataArray(
        np.stack([x, 2 * x]), dims=("time", "lat", "lon"), coords={"time": [0, 1], "lat": LAT, "lon": LON}
    )
    out = coarsen(da, 4)
    assert out.shape == (2, 8, 16)
    np.testing.assert_allclose(out.lat, gaussian_latitudes(8))
    np.testing.assert_allclose(out.lon, regular_longitudes(16))
    lat_c, lon_c = out.lat.values, out.lon.values
    ref = sum(a * lowpass_gain(l, lmax_keep=8) * harmonic(l, m, lat_c, lon_c) for l, m, a in terms)
    np.testing.assert_allclose(out.isel(time=0).values, ref, atol=1e-10)
    np.testing.assert_allclose(out.isel(time=1).values, 2 * ref, atol=1e-10)


def test_coarse_spectrum_vanishes_above_cutoff():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64))  # power at every degree
    out = coarsen(field(x), 4, lmax_keep=5)
    p_out = degree_power(out.values, out.lat.values)
    p_in = degree_power(x, LAT)
    assert p_out.shape == (8,)
    assert p_out[5:].max() < 1e-20 * p_in.sum()
    kept = lowpass_gain(np.arange(5), lmax_keep=5)
    np.testing.assert_allclose(p_out[:5], kept**2 * p_in[:5], rtol=1e-8, atol=1e-12 * p_in.sum())


def test_wind_dataset_filtered_as_a_vector_through_the_pole():
    # rotation about an equatorial axis: a degree-1 flow straight across both poles,
    # u = sin(lat) cos(lon), v = -sin(lon); v is discontinuous at the poles as a scalar.
    phi, lam = np.deg2rad(LAT)[:, None], np.deg2rad(LON)[None, :]
    u = np.sin(phi) * np.cos(lam)
    v = -np.sin(lam) * np.ones_like(phi)
    t = np.sin(phi) * np.ones_like(lam) + 280.0
    ds = xr.Dataset(
        {"u": (("lat", "lon"), u), "v": (("lat", "lon"), v), "tas": (("lat", "lon"), t), "label": ((), 3)},
        coords={"lat": LAT, "lon": LON},
    )
    out = coarsen(ds, 4)
    pc, lc = np.deg2rad(out.lat.values)[:, None], np.deg2rad(out.lon.values)[None, :]
    np.testing.assert_allclose(out.u.values, np.sin(pc) * np.cos(lc), atol=1e-10)
    np.testing.assert_allclose(out.v.values, -np.sin(lc) * np.ones_like(pc), atol=1e-10)
    np.testing.assert_allclose(out.tas.values, np.sin(pc) * np.ones_like(lc) + 280.0, atol=1e-10)
    assert int(out.label) == 3
    # treating v as a scalar rings near the poles: the vector path is what makes it exact
    scalar = coarsen(ds, 4, vector=None)
    assert np.abs(scalar.v.values + np.sin(lc)).max() > 0.05


def test_equiangular_grid_with_poles_and_descending_latitudes():
    lat = np.linspace(90, -90, 33)  # ERA5-like: north first, poles included
    lon = regular_longitudes(64) - 180.0  # origin at -180
    x = harmonic(4, 3, lat, lon) + harmonic(2, 0, lat, lon)
    out = coarsen(field(x, lat, lon), 4)
    assert grid_kind(lat) == "equiangular"
    np.testing.assert_allclose(out.lat, lat[::4])
    np.testing.assert_allclose(out.lon, lon[::4])
    g = lowpass_gain(4, lmax_keep=8)
    ref = g * harmonic(4, 3, lat[::4], lon[::4]) + harmonic(2, 0, lat[::4], lon[::4])
    np.testing.assert_allclose(out.values, ref, atol=1e-8)


def test_unsupported_grids_raise():
    lat = np.arange(-89.5, 90, 1.0)  # cell centres, no poles
    with pytest.raises(ValueError, match="unsupported grid"):
        coarsen(field(np.zeros((180, 360)), lat, regular_longitudes(360)), 4)
    with pytest.raises(ValueError, match="unsupported grid"):
        coarsen(field(np.zeros((32, 30)), LAT, np.arange(30.0)), 2)
    with pytest.raises(ValueError, match="must divide"):
        coarsen(field(np.zeros((32, 64))), 3)


def test_dask_backed_input_stays_lazy_and_agrees():
    rng = np.random.default_rng(1)
    da = xr.DataArray(
        rng.standard_normal((4, 32, 64)), dims=("time", "lat", "lon"), coords={"lat": LAT, "lon": LON}
    )
    lazy = coarsen(da.chunk({"time": 2}), 4)
    assert lazy.chunks is not None
    xr.testing.assert_allclose(lazy.compute(), coarsen(da, 4))
