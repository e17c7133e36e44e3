import numpy as np
import pytest
import xarray as xr
from scipy.special import sph_harm_y

from climviz.data.grid import gaussian_latitudes, global_grid, regular_longitudes
from climviz.data.regions import REGIONS
from climviz.diagnostics.spectra import (
    fft_power_spectrum,
    ke_spectrum,
    peak_period,
    sh_power_spectrum,
    temporal_power_spectrum,
)


def real_ylm(l, m, lat, lon):
    """Orthonormal real spherical harmonic on the grid ``[nlat, nlon]`` (scipy, independent of torch)."""
    theta = np.deg2rad(90.0 - lat)[:, None]
    phi = np.deg2rad(lon)[None, :]
    y = sph_harm_y(l, abs(m), theta, phi)
    if m > 0:
        return np.sqrt(2) * (-1) ** m * y.real
    if m < 0:
        return np.sqrt(2) * (-1) ** m * y.imag
    return y.real


def _da(f, lat, lon):
    return xr.DataArray(f, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


@pytest.mark.parametrize("l, m", [(3, 0), (5, 2), (10, 7), (20, -4), (30, 30)])
def test_single_harmonic_has_its_power_at_its_degree(l, m):
    lat, lon = global_grid(32, 64)
    p = sh_power_spectrum(_da(real_ylm(l, m, lat, lon), lat, lon))
    assert p.dims == ("degree",) and p.sizes["degree"] == 32
    assert float(p.sel(degree=l) / p.sum()) > 0.999
    # orthonormal Y has mean square 1/(4 pi)
    assert float(p.sum()) == pytest.approx(1 / (4 * np.pi), rel=1e-9)


def _random_bandlimited(lat, lon, lmax, rng):
    f = np.zeros((lat.size, lon.size))
    c2 = 0.0
    for l in range(lmax + 1):
        for m in range(-l, l + 1):
            c = rng.normal() / (1 + l)
            f += c * real_ylm(l, m, lat, lon)
            c2 += c * c
    return f, c2 / (4 * np.pi)  # exact global mean of f**2


@pytest.mark.parametrize("grid", ["gaussian", "equiangular"])
def test_parseval_random_fields(grid):
    rng = np.random.default_rng(7)
    lon = regular_longitudes(64)
    lat = gaussian_latitudes(32) if grid == "gaussian" else np.linspace(-90, 90, 33)
    fields, exact = zip(*[_random_bandlimited(lat, lon, 14, rng) for _ in range(2)])
    da = xr.DataArray(
        np.stack(fields), dims=("sample", "lat", "lon"), coords={"sample": [0, 1], "lat": lat, "lon": lon}
    )
    p = sh_power_spectrum(da)
    assert p.dims == ("sample", "degree")
    np.testing.assert_allclose(p.sum("degree").values, exact, rtol=1e-5)
    # and the cos-lat weighted grid mean of f**2 agrees to grid accuracy
    w = np.cos(np.deg2rad(lat))[:, None]
    grid_mean = [(f**2 * w).sum() / (w.sum() * lon.size) for f in fields]
    np.testing.assert_allclose(p.sum("degree").values, grid_mean, rtol=2e-3)
    leak = 1e-12 if grid == "gaussian" else 1e-5  # Gauss quadrature is exact, Clenshaw-Curtis nearly
    assert float(p.isel(degree=slice(15, None)).sum()) < leak * float(p.sum())


def test_descending_latitudes_and_dim_order_do_not_matter():
    lat, lon = global_grid(16, 32)
    f = real_ylm(4, 1, lat, lon) + 0.3 * real_ylm(2, 0, lat, lon)
    a = sh_power_spectrum(_da(f, lat, lon))
    b = sh_power_spectrum(_da(f, lat, lon).isel(lat=slice(None, None, -1)).transpose("lon", "lat"))
    np.testing.assert_allclose(a.values, b.values, rtol=1e-10)


def test_cell_centred_grid_is_interpolated_and_unknown_grid_rejected():
    lat = np.arange(-87.5, 90.0, 5.0)  # 36 rows, no poles
    lon = np.arange(0.0, 360.0, 5.0)
    p = sh_power_spectrum(_da(real_ylm(4, 2, lat, lon), lat, lon))
    assert "interpolated" in p.attrs["grid"]
    assert float(p.sel(degree=4) / p.sum()) > 0.995
    with pytest.raises(ValueError, match="unsupported latitude grid"):
        sh_power_spectrum(_da(np.zeros((5, 10)), np.array([-60, -20, 0, 30, 70.0]), np.arange(0, 360, 36.0)))
    with pytest.raises(ValueError, match="global"):
        sh_power_spectrum(_da(np.zeros((36, 20)), lat, lon[:20]))


def test_ke_spectrum_sums_to_mean_kinetic_energy():
    lat, lon = global_grid(32, 64)
    rng = np.random.default_rng(1)
    u, eu = _random_bandlimited(lat, lon, 10, rng)
    v, ev = _random_bandlimited(lat, lon, 10, rng)
    ke = ke_spectrum(_da(u, lat, lon), _da(v, lat, lon))
    assert float(ke.sum()) == pytest.approx(0.5 * (eu + ev), rel=1e-8)


def test_fft_spectrum_of_sinusoid_peaks_at_its_wavenumber():
    lat = np.arange(-20.0, 20.0, 1.0)
    lon = np.arange(100.0, 164.0, 1.0)
    n = 6  # cycles across the box in x
    f = np.sin(2 * np.pi * n * np.arange(64) / 64)[None, :] * np.ones((40, 1))
    p = fft_power_spectrum(_da(f, lat, lon))
    lx = 64 * p.attrs["dx_km"]
    k_peak = float(p.wavenumber[int(p.argmax("wavenumber"))])
    assert abs(k_peak - n / lx) <= 0.5 * p.attrs["dk"]


def test_fft_spectrum_parseval_without_window():
    lat = np.arange(0.0, 32.0, 1.0)
    lon = np.arange(0.0, 32.0, 1.0)
    y, x = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    f = np.cos(2 * np.pi * (3 * x + 2 * y) / 32) + 0.5 * np.sin(2 * np.pi * 5 * y / 32)
    p = fft_power_spectrum(_da(f, lat, lon), detrend=None, window=None)
    assert float(p.sum()) == pytest.approx(float(np.var(f)), rel=1e-10)


def test_fft_spectrum_on_box_crossing_zero_meridian():
    lat, lon = np.arange(-89.5, 90.0, 1.0), np.arange(0.0, 360.0, 1.0)
    f = np.cos(np.deg2rad(lon) * 36)[None, :] * np.cos(np.deg2rad(lat))[:, None]  # 10-degree zonal wave
    da = _da(f, lat, lon)
    p = fft_power_spectrum(da, REGIONS["Europe"])
    k_true = 1.0 / (10 * p.attrs["dx_km"])
    k_peak = float(p.wavenumber[int(p.argmax("wavenumber"))])
    assert abs(k_peak - k_true) <= p.attrs["dk"]
    # independent route: relabel to -180..180, sort and slice a plain box
    rolled = da.assign_coords(lon=np.where(lon >= 180, lon - 360, lon)).sortby("lon")
    ref = fft_power_spectrum(rolled.sel(lat=slice(35, 72), lon=slice(-10, 40)))
    np.testing.assert_allclose(p.values, ref.values, rtol=1e-10)
    np.testing.assert_allclose(p.wavenumber.values, ref.wavenumber.values, rtol=1e-10)


def test_temporal_spectrum_finds_four_year_period():
    rng = np.random.default_rng(11)
    t = np.arange(100 * 12)
    x = np.sin(2 * np.pi * t / 48.0) + 0.7 * rng.normal(size=t.size)
    da = xr.DataArray(np.stack([x, np.roll(x, 7)]), dims=("member", "time"))
    for method in ("welch", "periodogram"):
        s = temporal_power_spectrum(da, method=method)
        assert s.dims == ("member", "frequency")
        assert s.frequency.attrs["units"] == "year-1"
        np.testing.assert_allclose(peak_period(s).values, 4.0, atol=0.35)
    with pytest.raises(ValueError, match="no frequency"):
        peak_period(s, band=(1000, 2000))
