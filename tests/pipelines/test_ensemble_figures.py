"""Figures of `climviz evaluate ensemble` and the perfect-generator ranges, on the embedded
(synthetic) ensemble: true members standing in for a generator must land inside the ranges,
an under-dispersive stand-in must not."""

import numpy as np
import pytest

from climviz.data.toy_ensemble import toy_ensemble
from climviz.diagnostics.means import area_weights
from climviz.diagnostics.scores import crps_ensemble, spread_ratio
from climviz.pipelines.ensemble_eval import evaluate_ensemble, markdown_table
from climviz.pipelines.ensemble_figures import PairMoments, perfect_generator_ranges


@pytest.fixture(scope="module")
def ens():
    return toy_ensemble(members=list(range(30)), start=1955, end=1995, grid=(24, 48), seed=0)


def test_pair_moments_give_the_spread_ratio_and_fair_crps_of_any_subset(ens):
    sub = ens.isel(member=slice(0, 12), time=slice(0, 60))
    pm = PairMoments(sub, chunk=7)  # chunks that do not divide the months
    g, r, o = [0, 3, 5, 6, 9], [1, 2, 4, 7, 8, 10], [11]
    w = area_weights(sub)
    ref_ratio = float(spread_ratio(sub.isel(member=g), sub.isel(member=r), weights=w))
    assert np.sqrt(pm.variance(g) / pm.variance(r)) == pytest.approx(ref_ratio, rel=1e-9)
    obs = sub.isel(member=o).rename(member="obs")
    ref_crps = float(crps_ensemble(sub.isel(member=g), obs, weights=w))
    assert pm.crps(g, o) == pytest.approx(ref_crps, rel=1e-9)


def test_true_members_fall_inside_the_perfect_generator_ranges_and_a_narrow_ensemble_does_not(ens):
    truth, pool = ens.sel(member=[26, 27, 28, 29]), ens.sel(member=list(range(20)))
    ideal = pool.isel(member=slice(0, 8))
    ranges = perfect_generator_ranges(truth, pool, 8, n_resamples=100, seed=1)["ranges"]
    for key in ("spread_ratio", "crps_over_ideal", "nino34_std_ratio", "nino34_band_ratio_2-4yr"):
        lo, hi = ranges[key]
        assert lo < 1.0 < hi, key
    stand_in = ens.sel(member=list(range(20, 26)) + [8, 9])  # true members outside pool[:8]
    narrow = stand_in.mean("member") + 0.8 * (stand_in - stand_in.mean("member"))
    good, bad = evaluate_ensemble(stand_in, truth, ideal), evaluate_ensemble(narrow, truth, ideal)
    # (the CRPS ratio's range is +-0.6% here; single members differ by ~1% in skill, so a fixed
    # stand-in can sit just outside it by chance: it is only required to beat the narrow one)
    for key in (
        "spread_ratio",
        "nino34_lag1_autocorr_generated",
        "pinatubo_composite_generated_K",
        "eruptions_mean_composite_generated_K",
    ):
        lo, hi = ranges[key]
        assert lo <= good[key] <= hi, (key, good[key], ranges[key])
    assert (
        bad["spread_ratio"] == pytest.approx(0.8, abs=0.01)
        and bad["spread_ratio"] < ranges["spread_ratio"][0]
    )
    assert bad["crps_over_ideal"] > ranges["crps_over_ideal"][1]
    assert abs(good["crps_over_ideal"] - 1) < 0.015 < bad["crps_over_ideal"] - 1
    assert len(good["nino34_acf_generated"]) == 37 and good["nino34_acf_generated"][0] == 1.0
    table = markdown_table({"modes": {"stand-in": good}, "perfect_generator": {"ranges": ranges}})
    assert "| fair CRPS / ideal | <= 1.05 |" in table and "perfect generator (2.5-97.5%)" in table
    assert "Nino3.4 variance 2-4 yr, generated / true" in table


class _Shrinking:
    """A stand-in generator whose VAE gives back ``scale`` times its (normalised) input."""

    def __init__(self, scale):
        self.scale = scale

    def encode_fields(self, fields, months):
        return fields - 280.0

    def decode_fields(self, z, months):
        return self.scale * z + 280.0


def test_vae_scores_see_a_decoder_that_shrinks_the_spread(ens):
    from climviz.pipelines.ensemble_eval import vae_rmse

    truth = ens.sel(member=[26, 27, 28, 29]).isel(time=slice(0, 24))
    exact = vae_rmse(_Shrinking(1.0), truth)
    assert exact["vae_rmse_global_K"] < 1e-4 and exact["vae_spread_ratio"] == pytest.approx(1.0, abs=1e-6)
    # about 280 K +- anomalies, times 0.9: every member moves, and deviations between members shrink by 0.9
    shrunk = vae_rmse(_Shrinking(0.9), truth)
    assert shrunk["vae_spread_ratio"] == pytest.approx(0.9, rel=1e-5)
    assert shrunk["vae_rmse_global_K"] > 0.01
