"""The shipped generator's ENSO keeps its rhythm (models/ensemble, both sequence modes).

Conditioned on held-out member 25 over 1960-1989, 4 generated members at the
default sampler and steps, against held-out members 26-29. The shipped models
score lag-1 0.83 (the truth 0.92) and a 2-4 year variance ratio of 0.61-0.63
here; the earlier, red-noise-like checkpoints (git 5792c5d) scored 0.61-0.67
and 0.28-0.29. The 2-4 year threshold is the issue's, 0.6. The lag-1 threshold
sits between the two generations, 0.05 below today's figure, so the test fails
on the earlier checkpoints and on any model that falls back towards them (the
issue's 0.85 is not met yet: see the README's evaluation).
"""

import pytest

from climviz.data.toy_ensemble import toy_ensemble
from climviz.pipelines.ensemble_figures import band_key, enso_volcanic_figures, member_statistics
from climviz.requests import GenerationRequest

LAG1_MIN = 0.78  # earlier checkpoints 0.61-0.67, shipped 0.83
BAND_2_4_MIN = 0.6  # the issue's; earlier checkpoints 0.28-0.29, shipped 0.61-0.63


@pytest.fixture(scope="module")
def generator(shipped_generator):
    return shipped_generator


@pytest.fixture(scope="module")
def truth(generator):
    grid = (len(generator.lat), len(generator.lon))
    return toy_ensemble(members=[25, 26, 27, 28, 29], start=1960, end=1989, grid=grid, seed=0)


@pytest.fixture(scope="module", params=["transformer", "autoregressive"])
def figures(request, generator, truth):
    gen = generator.generate(truth.sel(member=25), GenerationRequest(n_members=4, mode=request.param, seed=0))
    return enso_volcanic_figures(member_statistics(gen), member_statistics(truth.sel(member=slice(26, 29))))


def test_nino34_persistence(figures):
    assert figures["nino34_lag1_autocorr_true"] > 0.88  # the truth has the persistence to match
    assert figures["nino34_lag1_autocorr_generated"] >= LAG1_MIN


def test_nino34_variance_at_enso_periods(figures):
    assert figures[band_key("2-4 yr")] >= BAND_2_4_MIN
