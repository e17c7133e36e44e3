"""Cost-quality points and the matched-quality speed-up (climviz.pipelines.downscale_cost).

``measure`` is checked with stand-in models whose samples are known: the truth
itself (CRPS 0, every degree in band, flicker 1) and the truth plus a constant
offset (the CRPS of a point ensemble is the absolute error). The selection of
the cheapest configuration is checked on hand-made points.
"""

import numpy as np
import pytest
import xarray as xr

from climviz.data.grid import gaussian_latitudes, regular_longitudes
from climviz.pipelines.downscale_cost import CostPoint, cheapest, matched_speedup, matched_target, measure


def _truth(n=8, nlat=16, nlon=32, seed=0):
    rng = np.random.default_rng(seed)
    time = np.datetime64("2000-01-01T00") + np.arange(n) * np.timedelta64(6, "h")
    coords = {"time": time, "lat": gaussian_latitudes(nlat), "lon": regular_longitudes(nlon)}
    dims = ("time", "lat", "lon")
    return xr.Dataset(
        {v: (dims, rng.normal(0, 5, (n, nlat, nlon)).astype(np.float32)) for v in ("u", "v")}, coords=coords
    )


class _Fixed:
    """A stand-in downscaler whose every sample is ``truth + offset`` (m/s)."""

    def __init__(self, truth, offset=0.0):
        self.truth, self.offset = truth, offset
        self.requests = []

    def downscale(self, coarse, request):
        self.requests.append(request)
        rep = {v: (self.truth[v] + self.offset).expand_dims(sample=request.n_samples) for v in ("u", "v")}
        return xr.Dataset(rep)


def test_measure_scores_the_truth_as_perfect_and_records_the_request():
    truth = _truth()
    model = _Fixed(truth)
    p = measure(model, "TAUDiff", truth, truth, 3, n_samples=2, sampler="dpm++2m")
    assert p.crps_u == pytest.approx(0.0, abs=1e-6)
    assert p.ke_share == 1.0
    assert p.flicker_u == pytest.approx(1.0, rel=1e-6)
    assert (p.method, p.steps, p.sampler) == ("TAUDiff", 3, "dpm++2m")
    assert p.seconds_per_day > 0
    (req,) = model.requests
    assert (req.steps, req.n_samples, req.sampler) == (3, 2, "dpm++2m")


def test_measure_crps_of_a_point_ensemble_is_the_absolute_error():
    truth = _truth()
    p = measure(_Fixed(truth, offset=1.5), "baseline", truth, truth, 1, n_samples=3)
    assert p.crps_u == pytest.approx(1.5, rel=1e-5)
    assert p.flicker_u == pytest.approx(1.0, rel=1e-5)  # a constant offset does not change in time


def _pt(method, steps, cost, crps, ke):
    return CostPoint(method, steps, "ddim", cost, crps, ke, 1.0)


POINTS = [
    _pt("TAUDiff", 1, 1.0, 1.30, 0.80),
    _pt("TAUDiff", 2, 2.0, 1.10, 0.95),
    _pt("TAUDiff", 8, 8.0, 1.05, 0.97),
    _pt("baseline", 5, 10.0, 1.40, 0.70),
    _pt("baseline", 20, 40.0, 1.12, 0.92),
    _pt("baseline", 40, 80.0, 1.08, 0.93),
]


def test_cheapest_needs_both_the_ke_share_and_the_crps():
    assert cheapest(POINTS, "TAUDiff", 0.9, 1.2).steps == 2
    assert cheapest(POINTS, "baseline", 0.9, 1.10).steps == 40
    assert cheapest(POINTS, "baseline", 0.95, 2.0) is None


def test_matched_target_is_the_strictest_both_reach():
    t = matched_target(POINTS)
    assert t["ke_share"] == 0.9 and t["ke_target_reached"]
    assert t["crps_u"] == pytest.approx(1.08)  # baseline's best at KE >= 0.9; TAUDiff's best is 1.05


def test_matched_speedup_divides_the_cheapest_costs():
    r = matched_speedup(POINTS)
    # target KE >= 0.9, CRPS <= 1.08: TAUDiff needs 8 steps (8.0), the baseline 40 (80.0)
    assert r["TAUDiff"]["steps"] == 8 and r["baseline"]["steps"] == 40
    assert r["speedup"] == pytest.approx(10.0)
    r = matched_speedup(POINTS, ke_target=0.9, crps_target=1.2)
    assert r["speedup"] == pytest.approx(40.0 / 2.0)
    assert matched_speedup(POINTS, ke_target=0.99, crps_target=2.0)["speedup"] is None


def test_matched_target_lowers_the_ke_share_to_what_both_reach():
    pts = [_pt("TAUDiff", 1, 1.0, 1.0, 0.95), _pt("baseline", 10, 5.0, 1.2, 0.6)]
    t = matched_target(pts)
    assert t["ke_share"] == 0.6 and not t["ke_target_reached"]
    assert matched_speedup(pts)["speedup"] == pytest.approx(5.0)
