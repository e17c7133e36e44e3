import numpy as np
import pytest
import xarray as xr
from scipy import stats

from climviz.diagnostics.scores import crps_ensemble, rank_histogram, spread_ratio, spread_skill_ratio


def _crps_gaussian(mu, sigma, y):
    """Closed-form CRPS of N(mu, sigma) at y (Gneiting et al. 2005)."""
    z = (y - mu) / sigma
    return sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


def test_crps_matches_gaussian_closed_form():
    rng = np.random.default_rng(0)
    n, m = 30, 4000
    mu, sigma = rng.normal(size=n), rng.uniform(0.5, 2.0, size=n)
    y = mu + sigma * rng.normal(size=n)
    fc = xr.DataArray(mu[:, None] + sigma[:, None] * rng.normal(size=(n, m)), dims=("x", "member"))
    obs = xr.DataArray(y, dims="x")
    per_point = crps_ensemble(fc, obs, dim=[])
    assert per_point.dims == ("x",)
    np.testing.assert_allclose(per_point.values, _crps_gaussian(mu, sigma, y), rtol=0.05, atol=0.01)
    assert float(crps_ensemble(fc, obs)) == pytest.approx(_crps_gaussian(mu, sigma, y).mean(), rel=0.01)


def test_crps_hand_computed_three_members_and_weights():
    fc = xr.DataArray([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]], dims=("lat", "member"), coords={"lat": [0.0, 60.0]})
    obs = xr.DataArray([3.0, 0.0], dims="lat", coords={"lat": [0.0, 60.0]})
    # E|X-y| - 0.5 E|X-X'|; sum_{i,j}|x_i - x_j| = 12: classical 12 / (2 * 9), fair 12 / (2 * 6)
    np.testing.assert_allclose(
        crps_ensemble(fc, obs, dim=[], estimator="classical").values, [2 / 3, 5 / 3], rtol=1e-12
    )
    np.testing.assert_allclose(crps_ensemble(fc, obs, dim=[]).values, [1 / 3, 4 / 3], rtol=1e-12)
    w = xr.DataArray([1.0, 0.5], dims="lat", coords={"lat": [0.0, 60.0]})
    assert float(crps_ensemble(fc, obs, dim="lat", weights=w)) == pytest.approx((1 / 3 + 0.5 * 4 / 3) / 1.5)
    with pytest.raises(ValueError, match="estimator"):
        crps_ensemble(fc, obs, estimator="pwm")


@pytest.mark.parametrize("estimator,theirs", [("fair", "fair"), ("classical", "nrg")])
def test_crps_matches_scoringrules(estimator, theirs):
    sr = pytest.importorskip("scoringrules")
    rng = np.random.default_rng(7)
    fc = rng.gamma(2.0, size=(200, 7)) - 1.5  # skewed members, ties impossible
    obs = rng.normal(size=200)
    ours = crps_ensemble(
        xr.DataArray(fc, dims=("x", "member")), xr.DataArray(obs, dims="x"), dim=[], estimator=estimator
    )
    np.testing.assert_allclose(
        ours.values, sr.crps_ensemble(obs, fc, m_axis=-1, estimator=theirs), rtol=1e-10, atol=1e-12
    )
    # and the classical one against xskillscore (properscoring's kernel)
    if estimator == "classical":
        import xskillscore as xs

        ref = xs.crps_ensemble(xr.DataArray(obs, dims="x"), xr.DataArray(fc, dims=("x", "member")), dim=[])
        np.testing.assert_allclose(ours.values, ref.values, rtol=1e-10)


def test_fair_crps_of_a_small_perfect_ensemble_matches_a_large_one():
    """Members and observations from one distribution: the fair CRPS of 4 or 5 members equals the
    15-member one within sampling error, while the classical estimator is ~+1/M (25% at M = 4) high."""
    rng = np.random.default_rng(8)
    n = 60000
    obs = xr.DataArray(rng.normal(size=n), dims="x")
    big = xr.DataArray(rng.normal(size=(15, n)), dims=("member", "x"))
    ideal = 1 / np.sqrt(np.pi)  # CRPS of N(0, 1) averaged over y ~ N(0, 1)
    fair15 = float(crps_ensemble(big, obs))
    assert fair15 == pytest.approx(ideal, rel=0.01)  # std error of the mean CRPS here: ~0.3%
    for m in (4, 5):
        small = big.isel(member=slice(0, m))
        assert float(crps_ensemble(small, obs)) == pytest.approx(fair15, rel=0.015)
        classical = float(crps_ensemble(small, obs, estimator="classical"))
        assert classical / fair15 - 1 == pytest.approx(1 / m, abs=0.02)


def test_rank_histogram_flat_for_calibrated_u_for_underdispersive():
    rng = np.random.default_rng(1)
    n, m = 20000, 9
    truth = rng.normal(size=n)
    obs = xr.DataArray(truth, dims="x")
    good = xr.DataArray(rng.normal(size=(m, n)), dims=("member", "x"))
    narrow = xr.DataArray(0.5 * rng.normal(size=(m, n)), dims=("member", "x"))
    h = rank_histogram(good, obs, seed=0)
    assert h.dims == ("rank",) and h["rank"].values.tolist() == list(range(1, m + 2)) and int(h.sum()) == n
    assert stats.chisquare(h.values).pvalue > 0.001
    u = rank_histogram(narrow, obs, seed=0).values
    assert stats.chisquare(u).pvalue < 1e-10
    assert min(u[0], u[-1]) > 2 * u[m // 2]


def test_rank_histogram_ties_are_broken_at_random():
    rng = np.random.default_rng(2)
    n, m = 12000, 4
    obs = xr.DataArray(rng.integers(0, 3, size=n).astype(float), dims="x")
    fc = xr.DataArray(rng.integers(0, 3, size=(m, n)).astype(float), dims=("member", "x"))
    h = rank_histogram(fc, obs, seed=3)
    assert stats.chisquare(h.values).pvalue > 0.001
    np.testing.assert_array_equal(h.values, rank_histogram(fc, obs, seed=3).values)
    # keeping a dim and skipping NaN
    fc2 = fc.assign_coords(x=np.arange(n)).expand_dims(t=2).copy()
    fc2[0, 0, 0] = np.nan
    h2 = rank_histogram(fc2, obs.assign_coords(x=np.arange(n)), dim="x", seed=3)
    assert h2.dims == ("t", "rank") and h2.sum("rank").values.tolist() == [n - 1, n]


def test_spread_skill_ratio_calibrated_is_one_with_correction():
    rng = np.random.default_rng(4)
    n, m = 40000, 5
    obs = xr.DataArray(rng.normal(size=n), dims="x")
    fc = xr.DataArray(rng.normal(size=(m, n)), dims=("member", "x"))
    assert float(spread_skill_ratio(fc, obs)) == pytest.approx(1.0, abs=0.02)
    raw = float(spread_skill_ratio(fc, obs, finite_ensemble_correction=False))
    assert raw == pytest.approx(np.sqrt(m / (m + 1)), abs=0.02)
    assert float(spread_skill_ratio(0.5 * fc, obs)) < 0.7


def test_spread_ratio_weighted():
    rng = np.random.default_rng(5)
    lat = np.array([0.0, 60.0])
    ref = xr.DataArray(
        rng.normal(size=(40, 2, 5000)) * np.array([1.0, 2.0])[:, None],
        dims=("member", "lat", "x"),
        coords={"lat": lat},
    )
    gen = xr.DataArray(
        rng.normal(size=(10, 2, 5000)) * np.array([0.7, 0.7])[:, None],
        dims=("member", "lat", "x"),
        coords={"lat": lat},
    )
    w = xr.DataArray(np.cos(np.deg2rad(lat)), dims="lat", coords={"lat": lat})
    # sqrt of the ratio of cos-lat weighted mean variances (weights 1 and 0.5)
    expected = np.sqrt((1.0 * 0.7**2 + 0.5 * 0.7**2) / (1.0 * 1.0**2 + 0.5 * 2.0**2))
    assert float(spread_ratio(gen, ref, weights=w)) == pytest.approx(expected, rel=0.02)
    per_lat = spread_ratio(gen, ref, dim="x")
    np.testing.assert_allclose(per_lat.values, [0.7, 0.35], rtol=0.03)


def test_spread_ratio_is_unbiased_for_any_member_counts():
    """Same distribution, 3 vs 30 members: ratio 1 (averaging std instead of variance would give c4(3) = 0.89)."""
    rng = np.random.default_rng(9)
    ref = xr.DataArray(rng.normal(size=(30, 40, 500)), dims=("member", "time", "x"))
    gen = xr.DataArray(rng.normal(size=(3, 40, 500)), dims=("member", "time", "x"))
    assert float(spread_ratio(gen, ref)) == pytest.approx(1.0, abs=0.01)
    mean_std = float(gen.std("member", ddof=1).mean() / ref.std("member", ddof=1).mean())
    assert mean_std < 0.92
