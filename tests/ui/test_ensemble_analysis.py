"""ENSO diagnostics of the Ensemble tab: whole-period spectrum, autocorrelation, observed reference."""

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (options need a backend)
import numpy as np
import pytest

from climviz.data.toy_ensemble import toy_ensemble
from climviz.ui.ensemble_analysis import ACF_LAGS, diagnose, observed_enso
from climviz.ui.views import acf_view, spectrum_view


@pytest.fixture(scope="module")
def analysis():
    ens = toy_ensemble(members=[0, 1, 2, 25, 26, 27], start=1970, end=1999, grid=(24, 48), seed=0)
    return diagnose(ens.isel(member=[0, 1, 2]), ens.isel(member=3, drop=True), ens.isel(member=[4, 5]))


def test_spectrum_spans_the_whole_period_and_acf_starts_at_one(analysis):
    n = 360
    for key in ("psd_gen", "psd_ref"):
        f = analysis[key]["frequency"].values
        assert f.size == n // 2 + 1 and f[1] == pytest.approx(12.0 / n)  # one-cycle-per-record step
    for key in ("acf_gen", "acf_ref"):
        acf = analysis[key]
        assert acf["lag"].values.tolist() == list(range(ACF_LAGS + 1)) and float(acf[0]) == pytest.approx(1.0)
        assert 0.5 < float(acf.sel(lag=1)) < 1.0  # ENSO persists month to month
    assert not analysis["notes"]


def test_observed_reference_is_the_noaa_series_through_the_same_functions(analysis):
    obs = observed_enso()
    assert obs is analysis["observed"] and obs["label"] == "observed (NOAA, 1871-2022)"
    assert obs["psd"]["frequency"].size == 1816 // 2 + 1
    # the real ENSO: lag-1 autocorrelation ~0.9 and a spectral peak between 2 and 7 years
    assert 0.85 < float(obs["acf"].sel(lag=1)) < 0.97
    keep = (obs["psd"]["period"] > 1.5) & (obs["psd"]["period"] < 10)
    peak = float(obs["psd"]["period"][keep][int(obs["psd"][keep].argmax())])
    assert 2.0 < peak < 7.0


def test_views_draw_the_observed_line_dashed(analysis):
    obs = analysis["observed"]
    acf = acf_view({"generated": analysis["acf_gen"], "true": analysis["acf_ref"], obs["label"]: obs["acf"]})
    psd = spectrum_view({"generated": analysis["psd_gen"], obs["label"]: obs["psd"]})
    for view in (acf, psd):
        curves = [c for c in view if isinstance(c, hv.Curve)]
        dashed = [
            c.label
            for c in curves
            if hv.Store.lookup_options("bokeh", c, "style").kwargs.get("line_dash") == "dashed"
        ]
        assert dashed == [obs["label"]]
    assert np.isfinite(analysis["acf_gen"].values).all()
