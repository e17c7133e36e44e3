"""The synthetic shallow-water wind data (tiny 32x64 runs, a few simulated days)."""

import numpy as np
import pytest
import torch
import xarray as xr
from scipy.interpolate import CubicSpline

from climviz.data.grid import gaussian_latitudes, regular_longitudes
from climviz.data.toy_wind import time_step, toy_wind
from climviz.data.toy_wind_io import work_paths, write_toy_wind

RADIUS = 6.37122e6  # m, the solver's Earth radius
GRID = (32, 64)


@pytest.fixture(scope="module")
def run():
    """Two spin-up days and six saved days, once per day: ~1400 solver steps."""
    return toy_wind(grid=GRID, days=6.0, seed=0, interval_hours=24.0, spinup_days=2.0)


def spherical_curl(u, v, lat, lon):
    """Relative vorticity (1/a cos phi)(dv/dlambda - d(u cos phi)/dphi), independently of the SHT.

    Longitude derivative by FFT (exact for band-limited fields), latitude
    derivative from a cubic spline through the Gaussian rows.
    """
    phi = np.deg2rad(lat)[:, None]
    k = np.fft.rfftfreq(len(lon), d=1.0 / len(lon))
    dv_dlambda = np.fft.irfft(1j * k * np.fft.rfft(v, axis=-1), n=len(lon), axis=-1)
    ducos_dphi = CubicSpline(np.deg2rad(lat), u * np.cos(phi), axis=-2)(np.deg2rad(lat), 1)
    return (dv_dlambda - ducos_dphi) / (RADIUS * np.cos(phi))


def test_grid_time_and_attrs(run):
    assert run["u"].dims == ("time", "lat", "lon")
    assert run.sizes == {"time": 6, "lat": 32, "lon": 64}
    np.testing.assert_allclose(run.lat, gaussian_latitudes(32), atol=1e-9)
    np.testing.assert_allclose(run.lon, regular_longitudes(64), atol=1e-9)
    hours = np.array([(t - run.time.values[0]).total_seconds() / 3600 for t in run.time.values])
    np.testing.assert_allclose(hours, 24.0 * np.arange(6))
    assert run.attrs["synthetic"] == "yes"
    assert "not observations" in run.attrs["comment"].lower()
    assert run["vort"].attrs["standard_name"] == "atmosphere_relative_vorticity"


def test_stable_and_plausible_magnitudes(run):
    for name in ("u", "v", "vort"):
        assert np.isfinite(run[name].values).all(), name
    speed = np.hypot(run.u, run.v)
    max_speed = speed.max(("lat", "lon"))
    rms_speed = np.sqrt((speed**2).mean(("lat", "lon")))
    assert (max_speed > 15).all() and (max_speed < 80).all(), max_speed.values
    assert (rms_speed > 3).all() and (rms_speed < 30).all(), rms_speed.values
    # jets relax towards westerlies at 45 N/S: zonal mean u there is positive
    jet = run.u.sel(lat=slice(35, 55)).mean(("lon", "lat"))
    assert (jet > 3).all(), jet.values
    vort = np.abs(run.vort).max(("lat", "lon"))
    assert (vort > 1e-5).all() and (vort < 1e-3).all(), vort.values


def test_vorticity_matches_independent_curl(run):
    lat, lon = run.lat.values, run.lon.values
    interior = np.abs(lat) < 60
    for t in (0, 5):
        u, v, z = (run[n].isel(time=t).values.astype(float) for n in ("u", "v", "vort"))
        curl = spherical_curl(u, v, lat, lon)[interior]
        z = z[interior]
        rel = np.sqrt(np.mean((curl - z) ** 2) / np.mean(z**2))
        assert rel < 0.03, rel


def test_flow_evolves(run):
    """Six days apart the vorticity fields are decorrelated weather, not a frozen state."""
    a, b = run.vort.isel(time=0).values.ravel(), run.vort.isel(time=5).values.ravel()
    assert np.corrcoef(a, b)[0, 1] < 0.9


def test_deterministic_per_seed_and_seeds_differ():
    state = torch.random.get_rng_state()
    kw = dict(grid=GRID, days=0.5, interval_hours=6.0, spinup_days=0.5)
    a, b, c = toy_wind(seed=3, **kw), toy_wind(seed=3, **kw), toy_wind(seed=4, **kw)
    xr.testing.assert_identical(a, b)
    assert float(np.abs(a.vort - c.vort).max()) > 0.1 * float(np.abs(a.vort).max())
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched


def test_time_step_respects_gravity_wave_courant():
    dt, nsub = time_step(128, 6.0)
    assert dt * nsub == pytest.approx(6 * 3600)
    c = np.sqrt(9.80616 * 10e3) + 50
    assert c * np.sqrt(83 * 84) / RADIUS * dt <= 0.55 + 1e-9


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_written_file_is_cf_and_appended(tmp_path, suffix):
    path = tmp_path / f"wind{suffix}"
    calls = []
    kw = dict(grid=GRID, days=1.25, seed=1, interval_hours=6.0, spinup_days=0.5)
    write_toy_wind(path, progress=lambda done, total: calls.append((done, total)), **kw)
    assert calls == [(1, 2), (2, 2)]
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
    ds = xr.open_dataset(
        path,
        engine="zarr" if suffix == ".zarr" else None,
        decode_times=xr.coders.CFDatetimeCoder(use_cftime=True),
    )
    assert ds.sizes["time"] == 5  # a day block of 4, then 1 appended
    assert ds["u"].attrs["standard_name"] == "eastward_wind" and ds["u"].attrs["units"] == "m s-1"
    assert ds["v"].attrs["standard_name"] == "northward_wind"
    assert ds["vort"].attrs["units"] == "s-1"
    assert ds["lat"].attrs["units"] == "degrees_north" and ds["lon"].attrs["units"] == "degrees_east"
    assert ds["u"].dtype == np.float32
    assert ds.attrs["synthetic"] == "yes" and ds.attrs["seed"] == 1
    assert ds.time.encoding["units"].startswith("hours since 2000-01-01")
    assert (ds.time.values[-1].day, ds.time.values[-1].hour) == (2, 0)
    if suffix == ".nc":
        mem = toy_wind(**kw)
        np.testing.assert_array_equal(ds.u.values, mem.u.values)
        np.testing.assert_array_equal(ds.vort.values, mem.vort.values)
    ds.close()


def test_bad_arguments():
    with pytest.raises(ValueError, match="NLAT >= 32"):
        toy_wind(grid=(16, 32), days=1)
    with pytest.raises(ValueError, match="output interval"):
        toy_wind(grid=GRID, days=0.1, interval_hours=6.0)
    with pytest.raises(ValueError, match="suffix"):
        write_toy_wind("/tmp/never-written.txt", grid=GRID, days=1)


class Interrupt(Exception):
    """Stands for Ctrl-C or a killed job, raised from the progress callback."""


def _stop_at(day):
    def progress(done, total):
        if done == day:
            raise Interrupt(done)

    return progress


def _read(path):
    engine = "zarr" if path.suffix == ".zarr" else None
    with xr.open_dataset(path, engine=engine, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        return ds.load()


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_interrupted_write_resumes_to_the_uninterrupted_file(tmp_path, suffix):
    """Stopped after day 1 and again after day 2 (with the state of day 1 put back, so the file holds
    frames the state has not seen), the resumed file equals one written in one go."""
    kw = dict(grid=GRID, days=2.0, seed=2, interval_hours=6.0, spinup_days=0.5)
    straight = tmp_path / f"straight{suffix}"
    write_toy_wind(straight, **kw)
    path = tmp_path / f"wind{suffix}"
    work, state = work_paths(path)
    with pytest.raises(Interrupt):  # progress days: 1 = spin-up, 2 = first output day, 3 = second
        write_toy_wind(path, progress=_stop_at(2), **kw)
    assert work.exists() and state.is_file() and not path.exists()
    assert _read(work).sizes["time"] == 4
    day1 = state.read_bytes()
    with pytest.raises(Interrupt):
        write_toy_wind(path, progress=_stop_at(3), **kw)
    assert _read(work).sizes["time"] == 8 and not path.exists()
    state.write_bytes(day1)  # the file is a day ahead of the saved state
    calls = []
    write_toy_wind(path, progress=lambda d, t: calls.append(d), **kw)
    assert calls == [3]  # only the second output day was simulated again
    assert not work.exists() and not state.exists()
    a, b = _read(straight), _read(path)
    assert a.sizes["time"] == b.sizes["time"] == 8
    for name in ("u", "v", "vort"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    np.testing.assert_array_equal(a.time.values, b.time.values)


def test_resume_with_other_settings_is_refused_and_restart_discards(tmp_path):
    kw = dict(grid=GRID, days=2.0, interval_hours=6.0, spinup_days=0.5)
    path = tmp_path / "wind.nc"
    with pytest.raises(Interrupt):
        write_toy_wind(path, seed=2, progress=_stop_at(2), **kw)
    with pytest.raises(ValueError, match="interrupted run with other settings"):
        write_toy_wind(path, seed=3, **kw)
    write_toy_wind(path, seed=3, resume=False, **kw)
    np.testing.assert_array_equal(_read(path).u.values, toy_wind(seed=3, **kw).u.values)
    assert not any(p.exists() for p in work_paths(path))
