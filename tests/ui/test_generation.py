"""The ensemble tab's state: the request, the job (EnsembleGeneration) and the results, with a tiny generator."""

import numpy as np
import pytest
import xarray as xr

from climviz.data.regions import get_region
from climviz.data.toy_ensemble import toy_ensemble
from climviz.diagnostics import area_weights, crps_ensemble
from climviz.requests import GenerationRequest
from climviz.ui import ensemble_request, ensemble_results
from climviz.ui.ensemble_request import EMBEDDED, UPLOAD
from climviz.ui.ensemble_results import CONDITIONING_CLIM, TRUE_CLIM, EnsembleResults
from climviz.ui.export import export_netcdf
from climviz.ui.generation import EnsembleGeneration
from climviz.ui.region_choice import CUSTOM, RegionChoice

GRID = (24, 48)
MONTHS = 24  # 1990-1991


def _state(gen, **kw):
    kw = {"n_members": 3, "steps": 3, "start_year": 1990, "end_year": 1991, **kw}
    return EnsembleGeneration(gen, "", **kw)


@pytest.fixture(scope="module")
def generated(tiny_generator):
    """A state that generated 3 members x 24 months (tests change its view choices only inside
    ``results.param.update(...)`` blocks, which restore them)."""
    s = _state(tiny_generator)
    assert s.generate(timeout=120) is not None, s.error
    return s


# ----------------------------------------------------------------------------- the request
def test_keyword_arguments_go_to_the_request_or_the_results(tiny_generator):
    s = _state(tiny_generator, region="Nino3.4", seed=7)
    assert (s.request.n_members, s.request.seed, s.results.region) == (3, 7, "Nino3.4")
    assert s.request.grid == GRID and s.request.model_years() == (1850, 2005)  # year-blind: the data's span


def test_the_request_becomes_a_generation_request(tiny_generator):
    r = _state(tiny_generator, seed=4, sampler="ddim").request
    assert r.generation_request() == GenerationRequest(
        n_members=3, steps=3, mode=r.mode, seed=4, sampler="ddim"
    )


def test_work_cap_refuses_politely(tiny_generator, monkeypatch):
    monkeypatch.setenv("CLIMVIZ_MAX_WORK", "100")
    s = _state(tiny_generator)
    assert s.request.work() == 3 * MONTHS * 3
    assert not s.start()
    assert "cap of 100" in s.error and s.job is None and s.results.result is None and not s.running
    monkeypatch.setenv("CLIMVIZ_MAX_WORK", "216")
    assert s.start()
    s.job.join(120)
    s.poll()
    assert s.results.result is not None


def test_period_bounds_are_the_embedded_data(tiny_generator):
    s = _state(tiny_generator)
    with pytest.raises(ValueError):
        s.request.start_year = 1840  # before the embedded data (the model itself reads no calendar year)
    s.request.param.update(start_year=1991, end_year=1990)
    assert not s.start() and "empty" in s.error


def test_the_comparison_member_must_differ_from_the_conditioning_run(tiny_generator):
    s = _state(tiny_generator, cond_member=26, truth_member=26)
    assert not s.start() and "must differ" in s.error


def test_without_a_generator_everything_is_refused_with_the_note():
    s = EnsembleGeneration(None, "No ensemble generator at `x`: it has not been trained yet.")
    assert not s.available and "not been trained" in s.check_request()
    assert not s.start() and "not been trained" in s.error
    assert s.request.conditioning().sizes["time"] == 240  # the embedded data still work (default 1980-1999)


# ----------------------------------------------------------------------------- the job
def test_generate_reports_and_keeps_the_result(generated):
    s = generated
    assert s.error == "" and not s.running and s.progress == 1.0 and s.results.version == 1
    assert s.results.result.dims == ("member", "time", "lat", "lon")
    assert s.results.result.shape == (3, MONTHS, *GRID)
    assert "Generated 3 members x 24 months" in s.status


def test_the_conditioning_run_is_the_embedded_member(generated):
    cond = generated.request.conditioning()
    ref25 = toy_ensemble(members=[25], start=1990, end=1991, grid=GRID, seed=0).isel(member=0, drop=True)
    np.testing.assert_allclose(cond.values, ref25.values, rtol=0, atol=5e-4)  # float32 rounding, K
    np.testing.assert_array_equal(generated.results.result["time"].values, cond["time"].values)


def test_one_denoising_frame_per_step_the_last_is_the_decoded_member(generated):
    ens, cond, frames = generated.results.result, generated.request.conditioning(), generated.results.denoise
    assert [f["step"] for f in frames] == [1, 2, 3]
    last = frames[-1]
    np.testing.assert_allclose(
        last["field"].values, (ens.isel(member=0) - cond).isel(time=last["frame"]).values, atol=1e-3
    )


def test_same_seed_same_ensemble_other_seed_differs(tiny_generator):
    a = _state(tiny_generator, seed=4).generate(timeout=120)
    b = _state(tiny_generator, seed=4).generate(timeout=120)
    c = _state(tiny_generator, seed=5).generate(timeout=120)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)


def test_enso_diagnostics_of_the_result(generated):
    a = generated.results.analysis
    assert a["nino_gen"].shape == (3, MONTHS) and a["eof_gen"]["eof"].ndim == 2 and 0 <= a["eof_corr"] <= 1


# ----------------------------------------------------------------------------- what the views show
def test_map_fields_of_the_chosen_month_and_member(generated):
    res, cond = generated.results, generated.request.conditioning()
    ens = res.result
    assert set(res.map_fields()) == {"cond", "member", "mean", "spread", "truth", "ref_mean"}
    with res.param.update(month=5, shown_member=2):
        clim = cond.groupby("time.month").mean("time")
        f = res.map_fields()
        np.testing.assert_allclose(
            f["member"].values, (ens.isel(member=2, time=5) - clim.sel(month=6)).values, atol=1e-5
        )
        np.testing.assert_allclose(
            f["spread"].values, ens.isel(time=5).std("member", ddof=1).values, atol=1e-5
        )


def test_regional_series_have_members_and_ordered_bands(generated):
    ser = generated.results.regional_series()
    assert ser["gen"].shape == (3, MONTHS) and ser["ref_band"].shape == (2, MONTHS)
    assert (ser["gen_band"].sel(quantile=0.95) >= ser["gen_band"].sel(quantile=0.05)).all()


def test_eruptions_inside_the_period_only(generated):
    assert [n for n, _ in generated.results.eruptions()] == ["Pinatubo"]  # June 1991


def test_box_select_sets_a_custom_region():
    r = RegionChoice()
    r.set_box(-170.0, -5.0, -120.0, 5.0)  # longitudes as -180..180
    assert r.region == CUSTOM and r.box == "-5.0,5.0,190.0,240.0"
    sel = r.selection()
    assert (sel.lat_min, sel.lat_max, sel.lon_min, sel.lon_max) == (-5.0, 5.0, 190.0, 240.0)
    r.set_box(350.0, 35.0, 40.0, 70.0)  # crossing 0E
    assert r.selection().wraps
    r.set_box(10.0, 5.0, 10.0, 20.0)  # no width: ignored
    assert r.box == "35.0,70.0,350.0,40.0"


def test_both_tabs_choose_regions_the_same_way():
    from climviz.ui.downscaling import Downscaling

    assert issubclass(EnsembleResults, RegionChoice) and issubclass(Downscaling, RegionChoice)
    assert EnsembleResults.param.region.objects == Downscaling.param.region.objects
    assert Downscaling().box != EnsembleResults.param.box.default  # each tab keeps its own default box


# ----------------------------------------------------------------------------- scores
def test_rank_histogram_counts_every_point_and_month_of_the_region(generated):
    res = generated.results
    glob = res.scores()
    assert glob["rank_histogram"].sizes["rank"] == 4  # 3 generated members: 4 possible ranks
    assert int(glob["rank_histogram"].sum()) == MONTHS * GRID[0] * GRID[1]
    with res.param.update(region="Nino3.4"):
        n_points = int(get_region("Nino3.4").mask(res.result["lat"].values, res.result["lon"].values).sum())
        assert int(res.scores()["rank_histogram"].sum()) == MONTHS * n_points


def test_scores_follow_the_region(generated):
    res = generated.results
    glob = res.scores()
    assert glob["spread_ratio"] > 0 and glob["crps"] > 0 and glob["crps_reference"] > 0
    with res.param.update(region="Nino3.4"):
        nino = res.scores()
    assert nino["region"] == "Nino3.4" and nino["crps"] != glob["crps"]
    g, o = get_region("Nino3.4").select(res.result), get_region("Nino3.4").select(res.truth())
    assert nino["crps"] == pytest.approx(float(crps_ensemble(g, o, weights=area_weights(o))))


def test_the_reference_ensemble_leaves_out_the_conditioning_and_true_members(generated):
    ref = generated.results.reference()
    assert ref.sizes["member"] == 15 and 25 not in ref["member"].values and 26 not in ref["member"].values


def test_the_reference_ensemble_shown_as_a_result_scores_like_the_ideal(tiny_generator):
    """Scored against itself, the true reference ensemble has a spread ratio of exactly 1 and
    the CRPS the table shows as ideal: the scores compare the result with that ensemble."""
    s = _state(tiny_generator)
    res = s.results
    ref = res.reference()
    res.keep(ref, s.request.conditioning(), {"has_truth": True}, [])
    sc = res.scores()
    assert sc["spread_ratio"] == pytest.approx(1.0, abs=1e-6)
    assert sc["crps"] == pytest.approx(sc["crps_reference"], rel=1e-6)
    assert sc["n_generated"] == sc["n_reference"] == 15


# ----------------------------------------------------------------------------- the anomaly reference
COND, TRUTH = 26, 27
LAT, LON = np.array([-60.0, -20.0, 20.0, 60.0]), np.arange(8) * 45.0


def _fake_members(members, start, end, grid=None, seed=0):
    """Runs that differ only by a constant: the conditioning member is 1 K warmer than every other
    member, and all share the same seasonal cycle."""
    time = xr.date_range(f"{start}-01-01", periods=12 * (end - start + 1), freq="MS", use_cftime=True)
    season = 10.0 * np.cos(2 * np.pi * (time.month - 1) / 12.0)
    warm = np.array([1.0 if k == COND else 0.0 for k in members])
    data = (
        280.0 + warm[:, None, None, None] + season[None, :, None, None] + np.zeros((1, 1, LAT.size, LON.size))
    )
    return xr.DataArray(
        data,
        dims=("member", "time", "lat", "lon"),
        coords={"member": list(members), "time": time, "lat": LAT, "lon": LON},
        attrs={"units": "K"},
    )


def _fake_climatology(member, start, end, grid=None, seed=0):
    return _fake_members((member,), start, end).isel(member=0, drop=True).groupby("time.month").mean("time")


@pytest.fixture
def fake_embedded(monkeypatch):
    monkeypatch.setattr(ensemble_request, "embedded_members", _fake_members)
    monkeypatch.setattr(ensemble_results, "embedded_members", _fake_members)
    monkeypatch.setattr(ensemble_results, "embedded_climatology", _fake_climatology)
    s = EnsembleGeneration(None, "", cond_member=COND, truth_member=TRUTH, start_year=1990, end_year=1991)
    return s.results


def test_against_its_own_climatology_the_conditioning_run_is_no_anomaly(fake_embedded):
    res = fake_embedded
    assert res.anomaly_reference == CONDITIONING_CLIM  # today's behaviour stays the default
    f = res.map_fields()
    np.testing.assert_allclose(f["cond"].values, 0.0, atol=1e-9)
    np.testing.assert_allclose(f["truth"].values, -1.0, atol=1e-9)  # the true member is 1 K cooler
    np.testing.assert_allclose(res.regional_series()["cond"].values, 0.0, atol=1e-9)


def test_against_the_true_ensemble_the_warmer_conditioning_run_is_a_warm_anomaly(fake_embedded):
    res = fake_embedded
    res.anomaly_reference = TRUE_CLIM
    f = res.map_fields()
    np.testing.assert_allclose(f["cond"].values, 1.0, atol=1e-9)
    np.testing.assert_allclose(f["truth"].values, 0.0, atol=1e-9)
    np.testing.assert_allclose(res.regional_series()["cond"].values, 1.0, atol=1e-9)
    assert "true ensemble's 1990-1991" in res.anomaly_text()


def test_generated_members_against_either_climatology(fake_embedded):
    res = fake_embedded
    cond = res.request.conditioning()
    ens = (cond + 1.0).expand_dims(member=[0, 1])  # 2 K warmer than the true ensemble
    res.keep(ens, cond, {"has_truth": True}, [])
    np.testing.assert_allclose(res.map_fields()["mean"].values, 1.0, atol=1e-9)
    res.anomaly_reference = TRUE_CLIM
    np.testing.assert_allclose(res.map_fields()["mean"].values, 2.0, atol=1e-9)


def test_an_upload_has_no_true_climatology(fake_embedded):
    res = fake_embedded
    res.request.cond_source = UPLOAD
    res.request.upload = _fake_members((COND,), 1990, 1991).isel(member=0, drop=True)
    res.anomaly_reference = TRUE_CLIM
    with pytest.raises(ValueError, match="embedded conditioning run"):
        res.map_fields()


# ----------------------------------------------------------------------------- uploads
def _nc_bytes(da):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "x.nc"
        da.to_dataset(name="tas").to_netcdf(p)
        return p.read_bytes()


def _run(start, end, grid=GRID):
    return toy_ensemble(members=[27], start=start, end=end, grid=grid, seed=0)


def test_an_unreadable_upload_is_explained_and_the_choice_stays(tiny_generator):
    r = _state(tiny_generator).request
    assert not r.load_upload(b"this is not netcdf", "notes.txt")
    assert "notes.txt" in r.upload_note and r.cond_source == EMBEDDED


def test_a_regional_upload_is_refused(tiny_generator):
    r = _state(tiny_generator).request
    assert not r.load_upload(_nc_bytes(_run(1990, 1991).isel(lon=slice(0, 12))), "box.nc")
    assert "box.nc" in r.upload_note and "a regional grid" in r.upload_note and r.cond_source == EMBEDDED


def test_an_upload_on_another_grid_is_regridded(tiny_generator):
    r = _state(tiny_generator).request
    assert r.load_upload(_nc_bytes(_run(1990, 1991, grid=(16, 32))), "coarse.nc"), r.upload_note
    assert (
        "It was regridded from Gaussian 16x32 to Gaussian 24x48 by spherical-harmonic transform, truncated "
        "at degree 15 (T15)."
    ) in r.upload_note
    assert r.conditioning().shape == (MONTHS, *GRID)


def test_an_upload_outside_the_training_years_sets_the_period(tiny_generator):
    r = _state(tiny_generator).request
    assert r.load_upload(_nc_bytes(_run(1960, 1961)), "old.nc"), r.upload_note  # the model reads no year
    assert (r.start_year, r.end_year) == (1960, 1961)


def test_a_good_upload_conditions_a_generation_without_truth(tiny_generator):
    s = _state(tiny_generator)
    good = _run(1991, 1992)
    assert s.request.load_upload(_nc_bytes(good), "mine.nc"), s.request.upload_note
    assert s.request.cond_source == UPLOAD and (s.request.start_year, s.request.end_year) == (1991, 1992)
    np.testing.assert_allclose(s.request.conditioning().values, good.isel(member=0).values, atol=1e-4)
    ens = s.generate(timeout=120)
    assert ens.shape == (3, MONTHS, *GRID) and "mine.nc" in ens.attrs["conditioning_source"]
    res = s.results
    assert res.scores() is None and res.truth() is None and "truth" not in res.map_fields()


# ----------------------------------------------------------------------------- export
def test_nothing_to_export_before_a_result(tiny_generator):
    with pytest.raises(ValueError, match="nothing generated"):
        export_netcdf(_state(tiny_generator).results)


def test_export_is_cf_netcdf(generated, tmp_path):
    ens = generated.results.result
    path = tmp_path / "download.nc"
    path.write_bytes(export_netcdf(generated.results).getvalue())
    ds = xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)).load()
    assert ds.attrs["Conventions"] == "CF-1.8" and ds.attrs["synthetic"] == "yes"
    assert ds["tas"].attrs["units"] == "K" and ds["lat"].attrs["standard_name"] == "latitude"
    assert ds["tas"].dims == ens.dims
    np.testing.assert_allclose(ds["tas"].values, ens.values, rtol=1e-6)
    assert ds["time"].values[0].year == 1990 and ds["time"].values[0].calendar == "proleptic_gregorian"
