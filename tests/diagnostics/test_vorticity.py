"""Relative vorticity on the sphere: analytic fields and the shallow-water solver's own vorticity."""

import numpy as np
import pytest
import xarray as xr

from climviz.data.grid import gaussian_latitudes, regular_longitudes
from climviz.diagnostics.spectra import EARTH_RADIUS_KM
from climviz.diagnostics.vorticity import _centred_differences, relative_vorticity

A = EARTH_RADIUS_KM * 1e3


def _field(values, lat, lon):
    return xr.DataArray(values, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


@pytest.mark.parametrize(
    "lat, rtol",
    [(gaussian_latitudes(32), 0.0), (np.linspace(-90.0, 90.0, 33), 0.03)],
    ids=["gauss", "equiangular"],
)
def test_analytic_fields_up_to_the_poles(lat, rtol):
    """Exact on the Gaussian grid; within 3% on the equiangular one (torch-harmonics' quadrature there)."""
    lon = regular_longitudes(64)
    phi, lam = np.meshgrid(np.deg2rad(lat), np.deg2rad(lon), indexing="ij")
    # solid-body rotation: zeta = 2 U sin(phi) / a
    u0 = 20.0
    zeta = relative_vorticity(_field(u0 * np.cos(phi), lat, lon), _field(0 * phi, lat, lon))
    np.testing.assert_allclose(zeta.values, 2 * u0 * np.sin(phi) / A, atol=(1e-9 + rtol) * u0 / A)
    # non-zonal: streamfunction psi = c sin(phi) cos(phi) cos(lambda) (degree 2), zeta = -6 psi / a^2
    c = 1e7
    u = -c * np.cos(2 * phi) * np.cos(lam) / A  # u = -(1/a) dpsi/dphi
    v = -c * np.sin(phi) * np.sin(lam) / A  # v = (1/(a cos phi)) dpsi/dlambda
    zeta = relative_vorticity(_field(u, lat, lon), _field(v, lat, lon))
    psi = c * np.sin(phi) * np.cos(phi) * np.cos(lam)
    np.testing.assert_allclose(zeta.values, -6 * psi / A**2, atol=(1e-9 + rtol) * c / A**2)
    assert zeta.attrs["units"] == "s-1" and "spherical harmonics" in zeta.attrs["method"]


def test_matches_the_shallow_water_solvers_vorticity():
    from climviz.data.toy_wind import toy_wind

    w = toy_wind(grid=(32, 64), days=0.5, seed=3, spinup_days=0.5)
    ref = w["vort"]
    rms = float(np.sqrt((ref**2).mean()))

    def err(z):
        return float(np.sqrt(((z - ref) ** 2).mean())) / rms

    assert err(relative_vorticity(w["u"], w["v"])) < 1e-3
    assert err(_centred_differences(w["u"], w["v"])) > 0.02  # grid differences do not reach it


def test_a_cell_centred_grid_falls_back_to_differences():
    lat, lon = -90 + 180 / 32 * (np.arange(32) + 0.5), regular_longitudes(64)
    phi = np.deg2rad(lat)[:, None] * np.ones(64)
    zeta = relative_vorticity(_field(20 * np.cos(phi), lat, lon), _field(0 * phi, lat, lon))
    assert "centred differences" in zeta.attrs["method"]
    np.testing.assert_allclose(zeta.values[2:-2], (40 * np.sin(phi) / A)[2:-2], rtol=2e-2)


def test_vortex_peaks_match_a_per_frame_maximum_filter():
    """The vectorised peaks (all frames at once) against the 2-D filter on each frame, longitude wrapping."""
    from scipy.ndimage import maximum_filter

    from climviz.diagnostics.vorticity import vortex_peaks

    z = np.random.default_rng(0).normal(size=(2, 3, 8, 16))
    got = vortex_peaks(xr.DataArray(z, dims=("sample", "time", "lat", "lon")), 1.0).values
    ref = np.stack(
        [
            (maximum_filter(np.abs(f), size=3, mode=("nearest", "wrap")) == np.abs(f)) & (np.abs(f) > 1.0)
            for f in z.reshape(-1, 8, 16)
        ]
    ).reshape(z.shape)
    np.testing.assert_array_equal(got, ref)
    assert 0 < ref.sum() < ref.size / 4  # the case has peaks, and not everywhere
