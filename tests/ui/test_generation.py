"""EnsembleGeneration (the ensemble tab's state) driven with a tiny trained generator."""

import numpy as np
import pytest
import xarray as xr

from climviz.data.regions import get_region
from climviz.data.toy_ensemble import toy_ensemble
from climviz.ui.generation import CUSTOM, EMBEDDED, UPLOAD, EnsembleGeneration

GRID = (24, 48)


def _state(gen, **kw):
    kw = {"n_members": 3, "steps": 3, "start_year": 1990, "end_year": 1991, **kw}
    return EnsembleGeneration(gen, "", **kw)


def test_generate_outputs_and_views(tiny_generator):
    s = _state(tiny_generator)
    assert s.grid == GRID and s.model_years() == (1850, 2005)  # year-blind model: the embedded data's span
    ens = s.generate(timeout=120)
    assert s.error == "" and not s.running and s.version == 1 and s.progress == 1.0
    assert ens.dims == ("member", "time", "lat", "lon") and ens.shape == (3, 24, *GRID)
    assert "Generated 3 members x 24 months" in s.status
    cond = s.conditioning()
    # the conditioning run is member 25 of the embedded ensemble, made independently here
    ref25 = toy_ensemble(members=[25], start=1990, end=1991, grid=GRID, seed=0).isel(member=0, drop=True)
    np.testing.assert_allclose(cond.values, ref25.values, rtol=0, atol=5e-4)  # float32 rounding, K
    np.testing.assert_array_equal(ens["time"].values, cond["time"].values)
    # one denoising frame per sampler step, the last one is the decoded member 0 minus the conditioning run
    assert [f["step"] for f in s.denoise] == [1, 2, 3]
    last = s.denoise[-1]
    np.testing.assert_allclose(
        last["field"].values, (ens.isel(member=0) - cond).isel(time=last["frame"]).values, atol=1e-3
    )
    f = s.map_fields()
    assert set(f) == {"cond", "member", "mean", "spread", "truth"}
    s.month, s.shown_member = 5, 2
    clim = cond.groupby("time.month").mean("time")
    np.testing.assert_allclose(
        s.map_fields()["member"].values, (ens.isel(member=2, time=5) - clim.sel(month=6)).values, atol=1e-5
    )
    np.testing.assert_allclose(
        s.map_fields()["spread"].values, ens.isel(time=5).std("member", ddof=1).values, atol=1e-5
    )
    ser = s.regional_series()
    assert ser["gen"].shape == (3, 24) and ser["ref_band"].shape == (2, 24)
    assert (ser["gen_band"].sel(quantile=0.95) >= ser["gen_band"].sel(quantile=0.05)).all()
    # eruptions inside the period only (Pinatubo, June 1991)
    assert [n for n, _ in s.eruptions()] == ["Pinatubo"]
    a = s.analysis
    assert a["nino_gen"].shape == (3, 24) and a["eof_gen"]["eof"].ndim == 2 and 0 <= a["eof_corr"] <= 1


def test_scores_follow_the_region(tiny_generator):
    s = _state(tiny_generator)
    s.generate(timeout=120)
    glob = s.scores()
    assert glob["spread_ratio"] > 0 and glob["crps"] > 0 and glob["crps_reference"] > 0
    # every grid point and month of the region gets one rank
    assert int(glob["rank_histogram"].sum()) == 24 * GRID[0] * GRID[1]
    assert glob["rank_histogram"].sizes["rank"] == 4
    s.region = "Nino3.4"
    nino = s.scores()
    r = get_region("Nino3.4")
    n_points = int(r.mask(s.result["lat"].values, s.result["lon"].values).sum())
    assert int(nino["rank_histogram"].sum()) == 24 * n_points
    assert nino["crps"] != glob["crps"]
    # the true members really are the held-out/reference ones: an ensemble made of the reference
    # members themselves has a spread ratio of 1
    ref = s.reference()
    assert 25 not in ref["member"].values and 26 not in ref["member"].values and ref.sizes["member"] == 15


def test_same_seed_same_ensemble_other_seed_differs(tiny_generator):
    a = _state(tiny_generator, seed=4).generate(timeout=120)
    b = _state(tiny_generator, seed=4).generate(timeout=120)
    c = _state(tiny_generator, seed=5).generate(timeout=120)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)


def test_work_cap_refuses_politely(tiny_generator, monkeypatch):
    monkeypatch.setenv("CLIMVIZ_MAX_WORK", "100")
    s = _state(tiny_generator)
    assert s.work() == 3 * 24 * 3
    assert not s.start()
    assert "cap of 100" in s.error and s.job is None and s.result is None and not s.running
    monkeypatch.setenv("CLIMVIZ_MAX_WORK", "216")
    assert s.start()
    s.job.join(120)
    s.poll()
    assert s.result is not None


def test_period_bounds_are_the_embedded_data(tiny_generator):
    s = _state(tiny_generator)
    with pytest.raises(ValueError):
        s.start_year = 1840  # before the embedded data (the model itself reads no calendar year)
    s.end_year, s.start_year = 1993, 1993
    s.param.update(start_year=1991, end_year=1990)
    assert not s.start() and "empty" in s.error


def test_box_select_sets_a_custom_region(tiny_generator):
    s = _state(tiny_generator)
    s.set_box(-170.0, -5.0, -120.0, 5.0)  # longitudes as -180..180
    assert s.region == CUSTOM and s.box == "-5.0,5.0,190.0,240.0"
    r = s.selection()
    assert (r.lat_min, r.lat_max, r.lon_min, r.lon_max) == (-5.0, 5.0, 190.0, 240.0)
    s.set_box(350.0, 35.0, 40.0, 70.0)  # crossing 0E
    assert s.selection().wraps


def _nc_bytes(da):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "x.nc"
        da.to_dataset(name="tas").to_netcdf(p)
        return p.read_bytes()


def test_uploads_good_bad_and_other_grids(tiny_generator):
    s = _state(tiny_generator)
    assert not s.load_upload(b"this is not netcdf", "notes.txt")
    assert "notes.txt" in s.upload_note and s.cond_source == EMBEDDED
    box = toy_ensemble(members=[27], start=1990, end=1991, grid=GRID, seed=0).isel(lon=slice(0, 12))
    assert not s.load_upload(_nc_bytes(box), "box.nc")
    assert "box.nc" in s.upload_note and "a regional grid" in s.upload_note and s.cond_source == EMBEDDED
    coarse = toy_ensemble(members=[27], start=1990, end=1991, grid=(16, 32), seed=0)
    assert s.load_upload(_nc_bytes(coarse), "coarse.nc"), s.upload_note
    assert (
        "It was regridded from Gaussian 16x32 to Gaussian 24x48 by spherical-harmonic transform, truncated "
        "at degree 15 (T15)."
    ) in s.upload_note
    assert s.conditioning().shape == (24, *GRID)
    far = toy_ensemble(members=[27], start=1960, end=1961, grid=GRID, seed=0)
    # a run outside the years the tiny model was trained on (1990-1993) is accepted: it reads no calendar year
    assert s.load_upload(_nc_bytes(far), "old.nc"), s.upload_note
    assert (s.start_year, s.end_year) == (1960, 1961)
    good = toy_ensemble(members=[27], start=1991, end=1992, grid=GRID, seed=0)
    assert s.load_upload(_nc_bytes(good), "mine.nc"), s.upload_note
    assert s.cond_source == UPLOAD and (s.start_year, s.end_year) == (1991, 1992)
    np.testing.assert_allclose(s.conditioning().values, good.isel(member=0).values, atol=1e-4)
    ens = s.generate(timeout=120)
    assert ens.shape == (3, 24, *GRID) and "mine.nc" in ens.attrs["conditioning_source"]
    assert s.scores() is None and s.truth() is None and "truth" not in s.map_fields()


def test_export_is_cf_netcdf(tiny_generator, tmp_path):
    s = _state(tiny_generator)
    with pytest.raises(ValueError):
        s.export_netcdf()
    ens = s.generate(timeout=120)
    path = tmp_path / "download.nc"
    path.write_bytes(s.export_netcdf().getvalue())
    ds = xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)).load()
    assert ds.attrs["Conventions"] == "CF-1.8" and ds["tas"].attrs["units"] == "K"
    assert ds["lat"].attrs["standard_name"] == "latitude" and ds["tas"].dims == ens.dims
    np.testing.assert_allclose(ds["tas"].values, ens.values, rtol=1e-6)
    assert ds["time"].values[0].year == 1990 and ds["time"].values[0].calendar == "proleptic_gregorian"


def test_without_a_generator_everything_is_refused_with_the_note():
    s = EnsembleGeneration(None, "No ensemble generator at `x`: it has not been trained yet.")
    assert not s.available and "not been trained" in s.check_request()
    assert not s.start() and "not been trained" in s.error
    assert s.conditioning().sizes["time"] == 240  # the embedded data still work (default 1980-1999)
