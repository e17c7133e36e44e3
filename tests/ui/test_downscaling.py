"""Downscaling (the downscaling tab's state) with tiny TAUDiff and baseline checkpoints."""

import numpy as np

from climviz.data.coarsen import coarsen
from climviz.data.toy_wind import toy_wind
from climviz.pipelines.downscale_eval import relative_vorticity
from climviz.ui.downscaling import CASES, Downscaling

SPINUP = 1.0


def test_downscale_case_views(tiny_downscalers):
    td, base = tiny_downscalers
    s = Downscaling(td, base, spinup_days=SPINUP, frames=4, n_samples=2, steps=2)
    assert s.fine_grid() == (32, 64) and s.factor() == 4 and s.work() == 2 * 4 * 2 * 2
    res = s.run(timeout=300)
    assert s.error == "" and res is not None and "Downscaled 4 frames x 2 samples" in s.status
    # the truth is a fresh simulation of the case's seed, and the coarse input is its coarsened version
    truth = toy_wind(grid=(32, 64), days=1.0, seed=CASES[s.case], spinup_days=SPINUP)
    np.testing.assert_allclose(res["fine"]["u"].values, truth["u"].values, rtol=1e-6)
    np.testing.assert_allclose(res["coarse"]["v"].values, coarsen(truth, 4)["v"].values, rtol=1e-5, atol=1e-5)
    s.time = 3
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
    z = s.vorticity()
    ref = relative_vorticity(truth["u"].isel(time=3), truth["v"].isel(time=3))
    np.testing.assert_allclose(z["truth"].values, 1e5 * ref.values, rtol=1e-5, atol=1e-8)
    ke = res["ke"]
    assert set(ke) == {"truth", "coarse input", "mean model", "TAUDiff samples", "baseline samples"}
    assert ke["truth"].sizes["degree"] > ke["coarse input"].sizes["degree"]
    # sum over degrees = area-mean kinetic energy (Parseval), of the same order as 0.5 (u^2 + v^2)
    e = float(0.5 * (truth["u"] ** 2 + truth["v"] ** 2).mean())
    assert 0.3 * e < float(ke["truth"].sum()) < 3 * e
    rows = s.timings()
    assert [(r["model"], r["stage"]) for r in rows] == [
        ("TAUDiff", "mean model"),
        ("TAUDiff", "diffusion"),
        ("baseline", "diffusion"),
    ]
    assert all(r["seconds"] >= 0 for r in rows) and s.time_label().startswith("2000-01-01 18:00")


def test_cap_and_missing_models(tiny_downscalers, monkeypatch):
    td, base = tiny_downscalers
    monkeypatch.setenv("CLIMVIZ_MAX_DOWNSCALE_WORK", "10")
    s = Downscaling(td, base, spinup_days=SPINUP, frames=4, n_samples=2, steps=2)
    assert not s.start() and "cap of 10" in s.error and s.job is None
    s.run_baseline = False
    assert s.work() == 16
    none = Downscaling(None, None, "No TAUDiff downscaler at `m`: it has not been trained yet.")
    assert not none.available and not none.start() and "not been trained" in none.error
