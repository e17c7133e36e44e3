"""Tests of the synthetic grand ensemble (climviz.data.toy_ensemble, .ebm, .enso_model).

Small grids (24 x 48) and few members; statistics are checked against
analytic results (two-box equilibrium, Lyapunov variance of the linear
oscillator, Legendre-series correlation of the noise) or against the targets
the module documents (warming, Pinatubo, Nino3.4), with tolerances from the
sampling error of the sizes used here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
import scipy.signal
import scipy.special
import scipy.stats
import xarray as xr

from climviz.data import ebm
from climviz.data import enso_model as em
from climviz.data import toy_ensemble as te
from climviz.data.grid import global_grid
from climviz.data.landmask import land_fraction
from climviz.data.regions import get_region
from climviz.data.toy_ensemble_io import write_toy_ensemble

GRID = (24, 48)
N_MEMBERS = 6


def area_weights(lat, nlon):
    return np.cos(np.deg2rad(lat))[:, None] * np.ones((1, nlon))


def area_mean(field, weights):
    """Weighted mean over the last two axes."""
    return (field * weights).sum(axis=(-2, -1)) / weights.sum()


@pytest.fixture(scope="module")
def grid_info():
    lat, lon = global_grid(*GRID)
    return lat, lon, land_fraction(lat, lon), area_weights(lat, GRID[1])


@pytest.fixture(scope="module")
def members():
    """Members 0..N-1, 1850-2005, on the small grid: [member, time, lat, lon]."""
    return np.stack([te.member_field(k, start=1850, end=2005, grid=GRID, seed=0) for k in range(N_MEMBERS)])


@pytest.fixture(scope="module")
def anomalies(members):
    """Members minus the shared part (climatology + forced response)."""
    return members - te.forced_field(start=1850, end=2005, grid=GRID)[None]


@pytest.fixture(scope="module")
def nino34(anomalies, grid_info):
    lat, lon, _, w = grid_info
    box = get_region("nino34").mask(lat, lon) * w
    return area_mean(anomalies, box)  # [member, time]


# ---------------------------------------------------------------- reproducibility


# Member k is the same whatever is requested to within float32 rounding: the array shapes
# (hence the BLAS kernels and their rounding) change with the request, and differ per CPU.
MEMBER_ATOL = 5e-4  # K, a few float32 ulps at 300 K (one ulp is 3e-5 K)


def test_member_same_whatever_members_or_period_requested(members):
    sub = te.toy_ensemble([4, 1], start=1980, end=2000, grid=GRID, seed=0)
    i0, i1 = 12 * (1980 - 1850), 12 * (2000 - 1850 + 1)
    np.testing.assert_allclose(sub.sel(member=1).values, members[1, i0:i1], rtol=0, atol=MEMBER_ATOL)
    np.testing.assert_allclose(sub.sel(member=4).values, members[4, i0:i1], rtol=0, atol=MEMBER_ATOL)
    alone = te.toy_ensemble(1, start=1850, end=1851, grid=GRID, seed=0)
    np.testing.assert_allclose(alone.isel(member=0).values, members[0, :24], rtol=0, atol=MEMBER_ATOL)
    # the same request computed twice is bit-identical
    again = te.toy_ensemble([4, 1], start=1980, end=2000, grid=GRID, seed=0)
    np.testing.assert_array_equal(again.values, sub.values)


def test_deterministic_and_seed_dependent(members):
    again = te.member_field(2, start=1850, end=1860, grid=GRID, seed=0)
    np.testing.assert_allclose(again, members[2, : again.shape[0]], rtol=0, atol=MEMBER_ATOL)
    other = te.member_field(2, start=1850, end=1860, grid=GRID, seed=1)
    assert np.abs(other - again).mean() > 0.1
    # members differ from each other, but only by internal variability
    assert np.abs(members[0] - members[1]).mean() > 0.1


def test_toy_ensemble_canonical_form():
    da = te.toy_ensemble(2, start=2000, end=2000, grid=GRID, seed=3)
    assert da.name == "tas" and da.dims == ("member", "time", "lat", "lon")
    assert da.dtype == np.float32 and da.attrs["units"] == "K" and da.attrs["synthetic"] == "yes"
    assert list(da.member.values) == [0, 1]
    assert np.all(np.diff(da.lat.values) > 0) and da.lon.values.min() >= 0 and da.lon.values.max() < 360
    t0 = da.time.values[0]
    assert (t0.year, t0.month, t0.day, t0.calendar) == (2000, 1, 15, "proleptic_gregorian")


@pytest.mark.parametrize("bad", [dict(start=1849), dict(end=2006), dict(start=1990, end=1980)])
def test_bad_period_rejected(bad):
    with pytest.raises(ValueError):
        te.member_field(0, **{"start": 1850, "end": 1851, "grid": GRID, **bad})


# ---------------------------------------------------------------- forced response


def test_two_box_equilibrium_and_initial_slope():
    p = ebm.EBMParams()
    f = np.full(12 * 3000, 3.7)
    t, t0 = ebm.two_box(f, p)
    # equilibrium: T = T0 = F / lambda
    assert t[-1] == pytest.approx(3.7 / p.feedback, rel=1e-3)
    assert t0[-1] == pytest.approx(3.7 / p.feedback, rel=1e-3)
    # first month: C dT/dt = F, T(month mean) ~ F dt / (2 C)
    assert t[0] == pytest.approx(3.7 / 12 / 2 / p.heat_capacity, rel=0.1)


def test_forcing_histories():
    years = np.array([1850.0, 1960.0, 2005.0])
    co2 = ebm.co2_concentration(years)
    assert co2[0] == pytest.approx(285, abs=2) and co2[1] == pytest.approx(317, abs=3)
    assert co2[2] == pytest.approx(379, abs=4)
    assert ebm.co2_forcing(np.array([1850.0]))[0] == pytest.approx(0.0, abs=1e-12)
    # Pinatubo (June 1991): the AOD pulse peaks 9 months after the eruption, in early 1992
    t = 1991 + 5 / 12 + np.arange(48) / 12
    aod = ebm.volcanic_aod(t)
    k = int(aod.argmax())
    assert 8 <= k <= 10 and aod[k] == pytest.approx(0.108, rel=0.05)
    assert 0.05 < aod[k + 12] / aod[k] < 0.5
    assert ebm.volcanic_aod(np.array([1991.0]))[0] < 1e-3


def test_global_warming_and_pinatubo_dip():
    fr = te.forced_response()
    warming = float(
        fr.tas.sel(time=slice("1986", "2005")).mean() - fr.tas.sel(time=slice("1850", "1879")).mean()
    )
    assert 0.6 <= warming <= 1.0
    dip = float(fr.tas.sel(time="1992").mean() - fr.tas.sel(time="1990").mean())
    # a mixed layer of 7.3 W yr m-2 K-1 under the RCMIP-size pulse (1992 mean -1.85 W m-2)
    # cools by roughly F * 1 yr / C ~ 0.25 K at most; the annual means differ by less
    assert -0.3 <= dip <= -0.1


def test_ensemble_mean_matches_forced_targets(members, grid_info):
    _, _, _, w = grid_info
    gm = area_mean(members.mean(axis=0), w)  # ensemble-mean global mean [time]
    years = 1850 + np.arange(gm.size) // 12
    warming = gm[years >= 1986].mean() - gm[years < 1880].mean()
    assert 0.55 <= warming <= 1.05
    dip = gm[years == 1992].mean() - gm[years == 1990].mean()
    assert -0.5 <= dip <= -0.1


def test_forced_field_global_mean_is_box_model(grid_info):
    _, _, _, w = grid_info
    ff = te.forced_field(start=1850, end=2005, grid=GRID)
    clim = ff[:12]  # January-December 1850: the forced anomaly is ~0 then
    anom = area_mean(ff - np.tile(clim, (ff.shape[0] // 12, 1, 1)), w)
    tas = te.forced_response().tas.values
    np.testing.assert_allclose(anom, tas - np.tile(tas[:12], tas.size // 12), atol=2e-4)


def test_warming_pattern_polar_and_land_amplified():
    lat, lon = global_grid(48, 96)
    land = land_fraction(lat, lon)
    w = area_weights(lat, 96)
    pat = ebm.warming_pattern(lat, lon, land)
    assert area_mean(pat, w) == pytest.approx(1.0)
    arctic = lat > 70
    ratio_arctic = area_mean(pat[arctic], w[arctic])
    assert 1.6 <= ratio_arctic <= 2.6
    ratio_land = ((pat * land * w).sum() / (land * w).sum()) / (
        (pat * (1 - land) * w).sum() / ((1 - land) * w).sum()
    )
    assert 1.3 <= ratio_land <= 1.9
    volc = ebm.volcanic_pattern(lat, lon, land)
    assert area_mean(volc, w) == pytest.approx(1.0)
    assert (volc * land * w).sum() / (land * w).sum() > (volc * (1 - land) * w).sum() / ((1 - land) * w).sum()
    north, south = lat > 0, lat < 0
    assert area_mean(volc[north], w[north]) > area_mean(volc[south], w[south])


# ---------------------------------------------------------------- climatology


def test_climatology_gradient_and_seasons(grid_info):
    lat, lon, land, _ = grid_info
    clim = te.climatology(lat, lon, land)
    annual = clim.mean(axis=(0, 2))
    assert 295 <= annual[np.abs(lat) < 10].mean() <= 305
    assert 225 <= annual[0] <= 262 and 240 <= annual[-1] <= 262
    jan, jul = clim[0], clim[6]
    nh, sh = lat > 30, lat < -30
    assert np.all(jul[nh] > jan[nh]) and np.all(jan[sh] > jul[sh])
    # seasonal range larger over land than over sea in northern mid-latitudes
    band = (lat > 40) & (lat < 70)
    rng = (clim.max(axis=0) - clim.min(axis=0))[band]
    fl = land[band]
    assert rng[fl > 0.9].mean() > 1.5 * rng[fl < 0.1].mean()


# ---------------------------------------------------------------- ENSO


def test_oscillator_variance_matches_lyapunov():
    """With constant growth rate the oscillator is a 2-D OU process: stationary covariance from Lyapunov."""
    p = em.RechargeOscillatorParams(growth_seasonal=0.0, noise_state=0.0)
    a = np.array([[p.growth, p.coupling_th], [-p.coupling_ht, -p.damping_h]])
    q = np.diag([p.noise_t**2, p.noise_h**2])
    cov = scipy.linalg.solve_continuous_lyapunov(a, -q)
    rng = np.random.default_rng(7)
    runs = np.stack([em.recharge_oscillator(12 * 200, rng, p)[0] for _ in range(12)])
    # monthly means slightly reduce the variance of a process with a ~2 yr time scale
    assert runs.var() == pytest.approx(cov[0, 0], rel=0.12)
    assert p.period_years == pytest.approx(2 * np.pi / np.sqrt(1.45**2 - 0.5**2), rel=1e-9)  # 4.62 yr


def test_state_dependent_noise_makes_el_nino_stronger():
    """B > 0 gives positive skewness (El Nino stronger than La Nina); B = 0 gives a Gaussian index."""
    sk = {}
    for b in (0.0, 0.15):
        p = em.RechargeOscillatorParams(noise_state=b)
        rng = np.random.default_rng(11)
        runs = np.stack([em.recharge_oscillator(12 * 150, rng, p)[0] for _ in range(8)])
        sk[b] = scipy.stats.skew(runs, axis=1).mean()
    # sampling sd of the mean skewness of 8 runs of 150 years is ~0.07
    assert abs(sk[0.0]) < 0.2 and sk[0.15] > 0.2


def test_nino34_std(nino34):
    sd = nino34.std(axis=1)
    assert 0.7 <= sd.mean() <= 1.1
    assert np.all((sd > 0.6) & (sd < 1.2))


def test_nino34_is_enso_index_plus_noise(nino34):
    idx = te.enso_index(3, start=1850, end=2005, seed=0)
    r = np.corrcoef(idx, nino34[3])[0, 1]
    assert r > 0.9
    assert np.std(nino34[3] - idx) < 0.4


def test_nino34_spectral_peak(nino34):
    f, pxx = scipy.signal.welch(nino34, fs=12.0, nperseg=480, axis=1)  # f in cycles per year
    peak_period = 1.0 / f[1:][pxx.mean(axis=0)[1:].argmax()]
    assert 2.0 <= peak_period <= 7.0


def test_nino34_phase_locked_to_boreal_winter(nino34):
    month = np.arange(nino34.shape[1]) % 12
    var = np.array([nino34[:, month == m].var() for m in range(12)])
    ndj = var[[10, 11, 0]].mean()
    amj = var[[3, 4, 5]].mean()
    assert ndj > 1.5 * amj


def test_global_mean_enso_imprint(nino34, anomalies, grid_info):
    _, _, _, w = grid_info
    gm = area_mean(anomalies, w)
    slope = np.mean([np.polyfit(nino34[k], gm[k], 1)[0] for k in range(N_MEMBERS)])
    assert 0.05 <= slope <= 0.15


def test_enso_pattern_shape(grid_info):
    lat, lon, land, _ = grid_info
    pats = em.enso_patterns(lat, lon, land)
    d = pats["direct"]
    box = get_region("nino34").mask(lat, lon) * area_weights(lat, len(lon))
    assert (d * box).sum() / box.sum() == pytest.approx(1.0)
    eq = np.abs(lat) < 5
    # east Pacific warmer than the Indian Ocean / Atlantic; PNA lobes of opposite sign
    east = (lon > 200) & (lon < 260)
    assert d[eq][:, east].mean() > 3 * np.abs(d[eq][:, (lon > 40) & (lon < 100)]).mean()
    win = pats["winter"]
    j_np = np.argmin(np.abs(lat - 40))
    j_ak = np.argmin(np.abs(lat - 60))
    assert win[j_np, np.argmin(np.abs(lon - 185))] < 0 < win[j_ak, np.argmin(np.abs(lon - 235))]


# ---------------------------------------------------------------- noise


def test_noise_unit_variance_correlation_and_persistence():
    """Compare the noise with the Legendre-series correlation of its spectrum (an independent reference)."""
    nlat, nlon = GRID
    lat, lon = global_grid(nlat, nlon)
    params = te.NoiseParams()
    x = te.unit_noise(np.random.default_rng(11), n0=0, n1=1200, grid=GRID, params=params)  # [2, t, lat, lon]
    var = x.var(axis=(0, 1, 3))
    np.testing.assert_allclose(var, 1.0, atol=0.08)  # every latitude, poles included
    lmax = min(params.lmax, nlat)
    ell = np.arange(lmax)
    cl = (2 * ell + 1) * te.noise_spectrum(params.length_km, lmax)

    def theory(theta):
        return (cl * scipy.special.eval_legendre(ell, np.cos(theta))).sum() / cl.sum()

    def corr(a, b):
        return float(np.mean(a * b) / np.sqrt(np.mean(a * a) * np.mean(b * b)))

    phi = np.deg2rad(lat)
    dlam = np.deg2rad(lon[1] - lon[0])
    j = nlat // 2  # near the equator: across the 0/360 seam and between neighbours
    for shift in (1, 2, 3):
        theta = np.arccos(np.sin(phi[j]) ** 2 + np.cos(phi[j]) ** 2 * np.cos(shift * dlam))
        seam = corr(x[:, :, j, 0], x[:, :, j, nlon - shift])
        inner = corr(x[:, :, j, 10], x[:, :, j, 10 + shift])
        assert seam == pytest.approx(theory(theta), abs=0.06)
        assert inner == pytest.approx(theory(theta), abs=0.06)
    # across the North Pole: opposite longitudes in the last row
    theta = np.pi - 2 * phi[-1]
    across = corr(x[:, :, -1, : nlon // 2], x[:, :, -1, nlon // 2 :])
    assert across == pytest.approx(theory(theta), abs=0.06)
    # e-folding distance of the correlation ~ length_km
    assert theory(params.length_km / te.EARTH_RADIUS_KM) == pytest.approx(np.exp(-1), abs=0.08)
    # lag-1 autocorrelation of the two processes
    for i, a in enumerate((params.lag1_ocean, params.lag1_land)):
        assert corr(x[i, 1:], x[i, :-1]) == pytest.approx(a, abs=0.04)


def test_noise_larger_over_land(anomalies, grid_info):
    lat, _, land, _ = grid_info
    # remove ENSO as well: what is left is the noise
    sd = anomalies.std(axis=(0, 1))
    band = (lat > 30) & (lat < 65)
    sd_band, f_band = sd[band], land[band]
    assert sd_band[f_band > 0.9].mean() > 1.4 * sd_band[f_band < 0.1].mean()
    trop = np.abs(lat) < 20
    sd_trop, f_trop = sd[trop], land[trop]
    assert 0.25 <= np.median(sd_trop[f_trop < 0.05]) <= 0.6


# ---------------------------------------------------------------- files


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_written_file_is_cf_and_matches_memory(tmp_path, suffix):
    path = tmp_path / f"toy{suffix}"
    calls = []
    write_toy_ensemble(
        path, members=2, start=1990, end=1991, grid=GRID, seed=5, progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(1, 2), (2, 2)]
    ref = te.toy_ensemble(2, start=1990, end=1991, grid=GRID, seed=5)
    engine = "netcdf4" if suffix == ".nc" else "zarr"
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    with xr.open_dataset(path, engine=engine, decode_times=coder) as ds:
        np.testing.assert_array_equal(ds.tas.values, ref.values)
        assert ds.tas.dtype == np.float32
        assert ds.tas.attrs["standard_name"] == "air_temperature" and ds.tas.attrs["units"] == "K"
        assert ds.lat.attrs["units"] == "degrees_north" and ds.lon.attrs["axis"] == "X"
        assert ds.lat.attrs["bounds"] == "lat_bnds" and ds.lat_bnds.shape == (GRID[0], 2)
        assert ds.member.attrs["long_name"] == "ensemble member" and list(ds.member.values) == [0, 1]
        assert ds.time.values[0].calendar == "proleptic_gregorian" and ds.time.values[0].day == 15
        assert ds.time_bnds.shape == (24, 2)
        assert ds.attrs["Conventions"] == "CF-1.8" and ds.attrs["synthetic"] == "yes"
        assert (
            "synthetic" in ds.attrs["comment"].lower() and "not observations" in ds.attrs["comment"].lower()
        )
        assert ds.attrs["seed"] == "5" and "climviz" in ds.attrs["generator"] and ds.attrs["history"]
        phys = json.loads(ds.attrs["physical_parameters"])
        assert phys["ebm"]["co2_coeff"] == 5.35 and "lag1_ocean" in phys["noise"]
    if suffix == ".nc":
        import netCDF4

        with netCDF4.Dataset(path) as nc:
            assert nc.dimensions["member"].isunlimited()
            assert nc["tas"].filters()["zlib"] and nc["tas"].chunking() == [1, 12, GRID[0], GRID[1]]


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_interrupted_write_leaves_nothing(tmp_path, suffix):
    path = tmp_path / f"toy{suffix}"

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_toy_ensemble(path, members=3, start=1990, end=1990, grid=GRID, progress=stop)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []
