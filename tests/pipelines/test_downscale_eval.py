"""Downscaling diagnostics: vorticity on the sphere (analytic), vortex counts."""

import numpy as np
import xarray as xr

from climviz.data.grid import global_grid
from climviz.diagnostics.spectra import EARTH_RADIUS_KM
from climviz.pipelines.downscale_eval import relative_vorticity, vortex_count


def test_solid_body_rotation_vorticity():
    lat, lon = global_grid(64, 128)
    u0 = 20.0
    u = xr.DataArray(
        u0 * np.cos(np.deg2rad(lat))[:, None] * np.ones(128),
        dims=("lat", "lon"),
        coords={"lat": lat, "lon": lon},
    )
    zeta = relative_vorticity(u, 0 * u)
    expected = 2 * u0 * np.sin(np.deg2rad(lat)) / (EARTH_RADIUS_KM * 1e3)  # zeta = 2 U sin(phi) / a
    inner = slice(2, -2)  # one-sided differences at the end rows
    np.testing.assert_allclose(zeta.values[inner, 0], expected[inner], rtol=2e-3)


def test_vortex_count_finds_isolated_peaks_across_the_dateline():
    z = np.zeros((1, 16, 32))
    z[0, 4, 0] = 5.0  # on the seam: its neighbour across longitude 0 is column 31
    z[0, 4, 31] = 3.0  # not a peak (its neighbour is larger)
    z[0, 10, 12] = -4.0  # |zeta| counts cyclones and anticyclones
    z[0, 12, 20] = 0.5  # below the threshold
    da = xr.DataArray(z, dims=("time", "lat", "lon"))
    assert vortex_count(da, 1.0) == 2.0
