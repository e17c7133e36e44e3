"""The ensemble tab hands large requests to a Dask scheduler when one is configured."""

import time

import numpy as np
import pytest

from climviz.ui.generation import EnsembleGeneration

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster_env(monkeypatch, tmp_path):
    """``$CLIMVIZ_DASK_SCHEDULER=local`` (2 workers), requests of 3+ members to the cluster, its
    stores under ``tmp_path``; the cluster the app started is closed afterwards."""
    from climviz.pipelines import distributed

    monkeypatch.setenv("CLIMVIZ_DASK_SCHEDULER", "local")
    monkeypatch.setenv("CLIMVIZ_DASK_WORKERS", "2")
    monkeypatch.setenv("CLIMVIZ_DASK_MIN_MEMBERS", "3")
    monkeypatch.setenv("CLIMVIZ_DASK_STORE", str(tmp_path))
    yield tmp_path
    for client in distributed._ENV_CLIENTS.values():
        client.close()
    distributed._ENV_CLIENTS.clear()


def _state(gen, **kw):
    kw = {"n_members": 4, "steps": 3, "start_year": 1990, "end_year": 1991, "seed": 5, **kw}
    return EnsembleGeneration(gen, "", **kw)


def test_large_request_runs_on_the_cluster_and_equals_the_local_result(
    tiny_generator, cluster_env, monkeypatch
):
    s = _state(tiny_generator)
    assert s.request.uses_cluster() and "Dask scheduler `local`" in s.request.device_text()
    assert s.request.param.n_members.bounds == (2, 200)  # a cluster takes more members than the server
    ens = s.generate(timeout=600)
    assert s.error == "", s.error
    assert "on the Dask scheduler local" in s.status and ens.attrs["dask_scheduler"] == "local"
    assert list(cluster_env.iterdir()) == []  # the temporary store is gone
    assert s.results.denoise == [] and s.results.analysis["nino_gen"].shape == (4, 24)

    monkeypatch.delenv("CLIMVIZ_DASK_SCHEDULER")
    here = _state(tiny_generator)
    assert not here.request.uses_cluster() and "Dask" not in here.request.device_text()
    ref = here.generate(timeout=600)
    assert ens.dims == ref.dims and ens.shape == ref.shape == (4, 24, 24, 48)
    np.testing.assert_array_equal(ens["time"].values, ref["time"].values)
    np.testing.assert_array_equal(ens["member"].values, ref["member"].values)
    # member k depends only on (seed, k): the same ensemble, up to float32 rounding of batched matmuls
    np.testing.assert_allclose(ens.values, ref.values, rtol=0, atol=1e-3)
    assert np.abs(ens.values - ref.values).max() < 0.01 * ens.std().item()


def test_small_requests_stay_here_and_caps_follow_the_route(tiny_generator, cluster_env, monkeypatch):
    monkeypatch.setenv("CLIMVIZ_MAX_WORK", "100")
    small = _state(tiny_generator, n_members=2)  # below CLIMVIZ_DASK_MIN_MEMBERS
    assert not small.request.uses_cluster()
    assert "this server's cap of 100" in small.check_request()
    large = _state(tiny_generator, n_members=4)  # 4 x 24 x 3 = 288 <= 10 x 100
    assert large.request.uses_cluster() and large.check_request() == ""
    large.request.n_members = 20  # 1440 > 1000
    assert "the Dask cluster's cap of 1,000" in large.check_request()
    monkeypatch.setenv("CLIMVIZ_DASK_MAX_WORK", "5000")
    assert large.check_request() == ""


def test_cancel_removes_the_cluster_store(tiny_generator, cluster_env):
    s = _state(tiny_generator, n_members=8, steps=20)
    assert s.start()
    deadline = time.monotonic() + 300
    while not any(cluster_env.iterdir()) and time.monotonic() < deadline:  # the run has begun
        time.sleep(0.05)
    assert any(cluster_env.iterdir())
    s.cancel()
    s.job.join(600)
    s.poll()
    assert s.status.startswith("Cancelled") and s.results.result is None and s.error == ""
    assert list(cluster_env.iterdir()) == []
