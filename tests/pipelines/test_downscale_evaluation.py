"""`evaluate_downscale` end to end with tiny models on a tiny synthetic wind file; temporal spectra, vortex counts.

The vorticity itself is checked analytically in tests/diagnostics/test_vorticity.py.
"""

import numpy as np
import pytest
import xarray as xr

from climviz.pipelines.downscale_eval import (
    evaluate_downscale,
    markdown_table,
    point_temporal_spectrum,
    vortex_count,
)


def test_point_temporal_spectrum_peaks_at_the_forcing_frequency():
    t = np.arange(64) / 4.0  # 16 days, 6-hourly
    lat, lon = np.linspace(-80, 80, 8), np.arange(0, 360, 45.0)
    u = xr.DataArray(
        np.sin(2 * np.pi * 0.5 * t)[:, None, None] * np.ones((1, 8, 8)),
        dims=("time", "lat", "lon"),
        coords={"time": t, "lat": lat, "lon": lon},
    )
    psd = point_temporal_spectrum(u, every=2)
    assert psd.dims == ("frequency",)
    assert float(psd["frequency"][int(np.argmax(psd.values))]) == pytest.approx(0.5)


def test_vortex_count_finds_isolated_peaks_across_the_dateline():
    z = np.zeros((1, 16, 32))
    z[0, 4, 0] = 5.0  # on the seam: its neighbour across longitude 0 is column 31
    z[0, 4, 31] = 3.0  # not a peak (its neighbour is larger)
    z[0, 10, 12] = -4.0  # |zeta| counts cyclones and anticyclones
    z[0, 12, 20] = 0.5  # below the threshold
    da = xr.DataArray(z, dims=("time", "lat", "lon"))
    assert vortex_count(da, 1.0) == 2.0


@pytest.fixture(scope="module")
def tiny_eval(tmp_path_factory):
    from climviz.data.io import write_dataset
    from climviz.data.toy_wind import toy_wind
    from climviz.nn.cau_unet import baseline_config, residual_config
    from climviz.nn.simvp import SimVPConfig
    from climviz.pipelines.downscale_training import train_taudiff
    from climviz.train.common import LoopSettings

    root = tmp_path_factory.mktemp("eval")
    data = write_dataset(toy_wind(grid=(32, 64), days=3, seed=1, spinup_days=1), root / "wind.nc")
    unet = dict(base=8, growth=4, mults=(1, 2), emb_dim=16)
    train_taudiff(
        data,
        root / "taudiff",
        stage="all",
        holdout=0.5,
        simvp_config=SimVPConfig(frames=4, coarse_shape=(8, 16), hid_s=8, hid_t=16, n_t=1),
        residual_unet=residual_config(**unet),
        baseline_unet=baseline_config(**unet),
        settings=LoopSettings(steps=2, batch_size=2, lr=1e-3, checkpoint_every=100),
        device="cpu",
    )
    report = evaluate_downscale(
        data, root / "taudiff", n_samples=2, steps=2, frames=4, holdout=0.5, figures=root / "figures"
    )
    return report, root


def test_report_scores_truth_perfectly_and_interpolation_loses_small_scales(tiny_eval):
    report, _ = tiny_eval
    m = report["methods"]
    assert set(m) == {"truth", "bilinear", "bicubic", "mean model", "TAUDiff", "baseline"}
    assert m["truth"]["ke_ratio"]["fraction_in_band"] == 1.0 and m["truth"]["vortex_ratio"] == 1.0
    assert m["truth"]["rmse_vector"] == 0.0 and m["truth"]["temporal_ratio_u"]["max_ratio"] == pytest.approx(
        1.0
    )
    # the coarse input is band-limited at a quarter of the fine degree: interpolation cannot put energy back
    assert (
        m["bilinear"]["ke_ratio"]["ratio_at_0.8_lmax"] < 0.5
        and m["bicubic"]["ke_ratio"]["ratio_at_0.8_lmax"] < 0.5
    )
    assert "crps_u" in m["TAUDiff"] and "crps_u" not in m["mean model"]
    assert report["frames"] == 4 and len(m["TAUDiff"]["temporal_spectrum_u"]) == len(
        report["temporal_frequency_per_day"]
    )
    table = markdown_table(report)
    assert table.count("\n| ") == len(m) and "baseline" in table


def test_time_coherence_scores(tiny_eval):
    """Flicker, temporal-spectrum ratio at every frequency and vortex-track continuity, per method."""
    report, _ = tiny_eval
    m = report["methods"]
    assert report["frame_step_hours"] == 6.0 and report["track_match_km"] == 500.0
    # 4 frames: a periodogram resolves 1 and 2 cycles per day (the mean is detrended away)
    assert m["TAUDiff"]["temporal_spectrum_ratio_u"]["frequency_per_day"] == [1.0, 2.0]
    t = m["truth"]
    assert t["flicker_ratio_u"] == 1.0 and t["flicker_ratio_v"] == 1.0 and t["mean_sq_change_u"] > 0
    assert t["temporal_spectrum_ratio_u"]["ratio"] == pytest.approx([1.0, 1.0])
    assert t["temporal_spectrum_ratio_u"]["fraction_in_band"] == 1.0
    assert 0.0 < t["track_continuity"] <= 1.0 and t["track_continuity_ratio"] == 1.0
    # the coarse input is band-limited: interpolating it cannot change faster than the truth
    for name in ("bilinear", "bicubic"):
        assert m[name]["flicker_ratio_u"] < 1.0 and m[name]["flicker_ratio_v"] < 1.0
    for x in m.values():
        r = x["temporal_spectrum_ratio_u"]
        assert (
            len(r["ratio"]) == 2 and r["min_ratio"] == min(r["ratio"]) and r["max_ratio"] == max(r["ratio"])
        )
        if x["vortex_count"] > 0:
            assert x["track_continuity_ratio"] == pytest.approx(x["track_continuity"] / t["track_continuity"])
        else:  # nothing to track (the smooth interpolations may have no vortex above the threshold)
            assert x["track_continuity"] is None and x["track_continuity_ratio"] is None
    table = markdown_table(report)
    assert "flicker ratio u, v, target [0.8, 1.25]" in table and "in [0.67, 1.5] (all f > 0)" in table
    assert "within 500 km after 6 h (/ truth, target [0.9, 1.1])" in table
    assert "| truth | 100% | 1.00 | 100% (1.00-1.00) | 1.00, 1.00 |" in table
    assert "| 1.00, - |" in table  # the truth's detail energy: 4 frames, all in the first 2 days
    assert t["detail_energy_by_frame"] == pytest.approx([1.0] * 4)
    assert m["mean model"]["detail_energy_by_frame"] == [0.0] * 4
    assert all(x > 0 for x in m["TAUDiff"]["detail_energy_by_frame"])


def test_detail_energy_of_a_scaled_departure_is_the_square_of_the_scale():
    from climviz.pipelines.downscale_eval import detail_energy_by_frame

    rng = np.random.default_rng(0)
    dims = ("time", "lat", "lon")
    lat = np.linspace(-80, 80, 9)
    coords = {"lat": lat, "lon": np.arange(12) * 30.0}

    def field(*shape, dims=dims):
        return xr.DataArray(rng.normal(size=shape), dims=dims, coords=coords)

    mu, mv, tu, tv = (field(3, 9, 12) for _ in range(4))
    scale = xr.DataArray([0.5, 1.0, 2.0], dims="time")  # per frame
    u, v = mu + scale * (tu - mu), mv + scale * (tv - mv)
    w = xr.DataArray(np.cos(np.deg2rad(lat)), dims="lat", coords={"lat": lat})
    np.testing.assert_allclose(detail_energy_by_frame(u, v, mu, mv, tu, tv, w), [0.25, 1.0, 4.0], rtol=1e-12)
    # samples: the energy is averaged over them (here a sample at 0 and one at the truth's scale)
    both = [xr.concat([mu, u], "sample"), xr.concat([mv, v], "sample")]
    np.testing.assert_allclose(
        detail_energy_by_frame(*both, mu, mv, tu, tv, w), [0.125, 0.5, 2.0], rtol=1e-12
    )


def test_figures_are_written(tiny_eval):
    report, root = tiny_eval
    names = sorted(p.split("/")[-1] for p in report["figures"])
    assert names == ["ke_spectra.png", "temporal_spectra.png", "vorticity.png"]
    for n in names:
        head = (root / "figures" / n).read_bytes()[:8]
        assert head == b"\x89PNG\r\n\x1a\n"


def test_the_validation_period_can_be_scored_and_needs_its_length(tiny_eval):
    _, root = tiny_eval
    kw = dict(n_samples=2, steps=1, frames=2, test_days=0.5, noise_correlation=0.5, burn_in=1)
    with pytest.raises(ValueError, match="val_days"):
        evaluate_downscale(root / "wind.nc", root / "taudiff", period="validation", **kw)
    with pytest.raises(ValueError, match="period must be"):
        evaluate_downscale(root / "wind.nc", root / "taudiff", period="train", **kw)
    val = evaluate_downscale(root / "wind.nc", root / "taudiff", period="validation", val_days=0.5, **kw)
    test = evaluate_downscale(root / "wind.nc", root / "taudiff", **kw)
    # 3 days of 6-hourly frames (12), the model trained on frames 0-5: validation frames 8-9, test 10-11
    times = xr.open_dataset(root / "wind.nc").indexes["time"]
    assert (val["heldout_start"], test["heldout_start"]) == (str(times[8]), str(times[10]))
    with pytest.raises(ValueError, match="inside the train_period"):
        evaluate_downscale(root / "wind.nc", root / "taudiff", period="validation", val_days=1.5, **kw)
    assert (val["period"], test["period"]) == ("validation", "test")
    assert (val["noise_correlation"], val["burn_in"]) == (0.5, 1)


def test_the_baseline_can_have_its_own_steps_and_sampler(tiny_eval):
    _, root = tiny_eval
    kw = dict(n_samples=2, steps=1, frames=2, holdout=0.5)
    r = evaluate_downscale(
        root / "wind.nc", root / "taudiff", baseline_steps=3, baseline_sampler="dpm++2m", **kw
    )
    assert r["timings"]["TAUDiff"]["steps"] == 1 and r["timings"]["TAUDiff"]["sampler"] == "ddim"
    assert r["timings"]["baseline"]["steps"] == 3 and r["timings"]["baseline"]["sampler"] == "dpm++2m"
    assert "(3 steps, dpm++2m)" in markdown_table(r)
