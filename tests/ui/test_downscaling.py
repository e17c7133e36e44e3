"""Downscaling (the downscaling tab's state) with tiny TAUDiff and baseline checkpoints."""

import numpy as np
import pytest

from climviz.data.coarsen import coarsen
from climviz.data.toy_wind import toy_wind
from climviz.pipelines.downscale_eval import relative_vorticity
from climviz.ui.downscaling import CASES, Downscaling

SPINUP = 1.0


@pytest.fixture(scope="module")
def downscaled(tiny_downscalers):
    """A state that downscaled 4 frames x 2 samples, shown at frame 3, and the case's truth made here."""
    td, base = tiny_downscalers
    s = Downscaling(
        td, base, spinup_days=SPINUP, frames=4, n_samples=2, steps=2, time=0, noise_correlation=0.6
    )
    assert s.fine_grid() == (32, 64) and s.factor() == 4 and s.work() == 2 * 4 * 2 * 2
    assert s.run(timeout=300) is not None, s.error
    s.time = 3
    return s, toy_wind(grid=(32, 64), days=1.0, seed=CASES[s.case], spinup_days=SPINUP)


def test_a_run_reports_and_keeps_its_result(downscaled):
    s, _ = downscaled
    assert s.error == "" and "Downscaled 4 frames x 2 samples" in s.status
    assert "noise correlation 0.6" in s.status  # the widget's value reached both models' requests
    assert (
        s.result["taudiff"].attrs["noise_correlation"]
        == s.result["baseline"].attrs["noise_correlation"]
        == 0.6
    )
    assert s.time_label().startswith("2000-01-01 18:00")


def test_the_truth_is_a_fresh_case_and_the_input_its_coarsened_version(downscaled):
    s, truth = downscaled
    np.testing.assert_allclose(s.result["fine"]["u"].values, truth["u"].values, rtol=1e-6)
    np.testing.assert_allclose(
        s.result["coarse"]["v"].values, coarsen(truth, 4)["v"].values, rtol=1e-5, atol=1e-5
    )


def test_frame_fields_of_every_model_at_the_shown_frame(downscaled):
    s, truth = downscaled
    f = s.frame_fields()
    assert list(f) == [
        "coarse input",
        "mean model",
        "TAUDiff sample 1",
        "TAUDiff sample 2",
        "baseline sample 1",
        "truth",
    ]
    assert f["coarse input"][0].shape == (8, 16) and f["truth"][0].shape == (32, 64)
    np.testing.assert_allclose(f["truth"][0].values, truth["u"].isel(time=3).values, rtol=1e-6)


def test_vorticity_of_the_truth_matches_the_pipeline(downscaled):
    s, truth = downscaled
    ref = relative_vorticity(truth["u"].isel(time=3), truth["v"].isel(time=3))
    np.testing.assert_allclose(s.vorticity()["truth"].values, 1e5 * ref.values, rtol=1e-5, atol=1e-8)


def test_kinetic_energy_spectra_of_each_model(downscaled):
    s, truth = downscaled
    ke = s.result["ke"]
    assert set(ke) == {"truth", "coarse input", "mean model", "TAUDiff samples", "baseline samples"}
    assert ke["truth"].sizes["degree"] > ke["coarse input"].sizes["degree"]
    # sum over degrees = area-mean kinetic energy (Parseval), of the same order as 0.5 (u^2 + v^2)
    e = float(0.5 * (truth["u"] ** 2 + truth["v"] ** 2).mean())
    assert 0.3 * e < float(ke["truth"].sum()) < 3 * e


def test_timings_per_model_and_stage(downscaled):
    rows = downscaled[0].timings()
    assert [(r["model"], r["stage"]) for r in rows] == [
        ("TAUDiff", "mean model"),
        ("TAUDiff", "diffusion"),
        ("baseline", "diffusion"),
    ]
    assert all(r["seconds"] >= 0 for r in rows)


def test_cap_and_missing_models(tiny_downscalers, monkeypatch):
    td, base = tiny_downscalers
    monkeypatch.setenv("CLIMVIZ_MAX_DOWNSCALE_WORK", "10")
    s = Downscaling(td, base, spinup_days=SPINUP, frames=4, n_samples=2, steps=2)
    assert not s.start() and "cap of 10" in s.error and s.job is None
    s.run_baseline = False
    assert s.work() == 16
    none = Downscaling(None, None, "No TAUDiff downscaler at `m`: it has not been trained yet.")
    assert not none.available and not none.start() and "not been trained" in none.error


def _cost_quality():
    pts = [
        {
            "method": m,
            "steps": s,
            "sampler": "ddim",
            "seconds_per_day": c,
            "crps_u": q,
            "ke_share": k,
            "flicker_u": 1.0,
        }
        for m, s, c, q, k in [("TAUDiff", 2, 1.0, 1.1, 0.95), ("baseline", 20, 12.0, 1.2, 0.92)]
    ]
    result = {
        "target": {"ke_share": 0.9, "crps_u": 1.2},
        "TAUDiff": pts[0],
        "baseline": pts[1],
        "speedup": 12.0,
    }
    return {"points": pts, "result": result, "machine": "a test CPU"}


def test_the_shipped_cost_quality_curve_is_read_and_summarised(tmp_path):
    import json

    import holoviews as hv

    from climviz.ui.downscaling import COST_QUALITY_FILE, read_cost_quality
    from climviz.ui.pages.downscaling import cost_quality_text
    from climviz.ui.views import cost_quality_view

    assert read_cost_quality(tmp_path) is None  # none shipped
    (tmp_path / COST_QUALITY_FILE).write_text("{not json")
    assert read_cost_quality(tmp_path) is None  # unreadable: ignored, the page shows a note
    cq = _cost_quality()
    (tmp_path / COST_QUALITY_FILE).write_text(json.dumps(cq))
    assert read_cost_quality(tmp_path) == cq
    text = cost_quality_text(cq)
    assert "12.0x" in text and "| TAUDiff | 2 steps (ddim) | 1.00 |" in text and "a test CPU" in text
    cq["result"]["speedup"], cq["result"]["baseline"] = None, None
    assert "No speed-up" in cost_quality_text(cq) and "| baseline | never |" in cost_quality_text(cq)
    view = cost_quality_view(cq["points"])
    curves = [el for el in view if isinstance(el, hv.Curve)]
    assert sorted(c.label for c in curves) == ["TAUDiff (ddim)", "baseline (ddim)"]
    assert hv.render(view, backend="bokeh") is not None
