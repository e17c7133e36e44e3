"""The shipped generator's ENSO keeps its rhythm (models/ensemble, both sequence modes).

Conditioned on held-out member 25 over 1960-1989, 4 generated members at the
default sampler and steps (12 log-SNR-spaced DPM-Solver++(2M) steps), against
held-out members 26-29. The shipped models score lag-1 0.856-0.857 (the truth
0.92) and a 2-4 year variance ratio of 0.74-0.77 here. The thresholds are the
issue's, 0.85 and 0.6: the network of the third training stage (git dd7f157)
scored 0.863-0.867 and 0.86-0.87, and sampled with 20 trailing DPM-Solver++(2M)
steps 0.83 and 0.61-0.63 (lag-1 fails); the earlier, red-noise-like checkpoints
(git 5792c5d) 0.61-0.67 and 0.28-0.29 (both fail).
"""

import pytest

from climviz.data.toy_ensemble import toy_ensemble
from climviz.pipelines.ensemble_figures import band_key, enso_volcanic_figures, member_statistics
from climviz.requests import GenerationRequest

LAG1_MIN = 0.85  # the issue's; shipped 0.856-0.857, 20 trailing steps 0.83, earlier checkpoints 0.61-0.67
BAND_2_4_MIN = (
    0.6  # the issue's; shipped 0.74-0.77, 20 trailing steps 0.61-0.63, earlier checkpoints 0.28-0.29
)


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
