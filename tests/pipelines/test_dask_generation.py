"""Generation over a two-worker LocalCluster into one Zarr store."""

import os

import numpy as np
import pytest

from climviz.cli import main
from climviz.data.loader import open_ensemble, open_run
from climviz.pipelines.distributed import (
    connect,
    generate_to_zarr,
    plan_tasks,
    submit_generation,
)
from climviz.pipelines.ensemble import EnsembleGenerator
from climviz.requests import GenerationRequest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    with connect("local", 2, dashboard_address=":0", set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def cond(tiny_ensemble_file):
    return open_run(tiny_ensemble_file, member=3).load()  # 48 months on a 16x32 grid


class FailsOnLastTimeChunk:
    """A generator factory whose decoder fails on the short last time slice (after earlier writes)."""

    def __init__(self, path):
        self.path = str(path)

    def __call__(self):
        gen = EnsembleGenerator.from_checkpoint(self.path, device="cpu")
        decode = gen.decode_fields

        def failing(z, months, batch=256):
            if len(months) < 18:
                raise OSError("disk full (injected)")
            return decode(z, months, batch)

        gen.decode_fields = failing
        return gen


def test_plan_covers_every_member_once():
    assert plan_tasks(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert plan_tasks(3, 8) == [(0, 3)]
    with pytest.raises(ValueError):
        plan_tasks(0, 2)


@pytest.mark.parametrize(("mode", "sampler"), [("transformer", "ddpm"), ("autoregressive", "ddim")])
def test_store_equals_single_process_generate(client, tiny_generator_dir, cond, tmp_path, mode, sampler):
    store = tmp_path / "ens.zarr"
    seen = []
    path = generate_to_zarr(
        tiny_generator_dir,
        cond,
        store,
        GenerationRequest(n_members=5, steps=3, mode=mode, seed=11, sampler=sampler),
        members_per_task=2,
        client=client,
        time_chunk=18,
        progress=lambda d, n: seen.append((d, n)),
    )
    assert path == store.absolute() and seen[-1] == (5, 5)
    got = open_ensemble(store)
    assert got.dims == ("member", "time", "lat", "lon") and got.shape == (5, 48, 16, 32)
    assert got.chunks[0] == (1,) * 5 and got.chunks[1] == (18, 18, 12)
    assert got.attrs["seed"] == 11 and got.attrs["mode"] == mode and got.attrs["units"] == "K"
    ref = EnsembleGenerator.from_checkpoint(tiny_generator_dir, device="cpu").generate(
        cond, GenerationRequest(n_members=5, steps=3, mode=mode, seed=11, sampler=sampler)
    )
    np.testing.assert_array_equal(got["member"].values, np.arange(5))
    np.testing.assert_array_equal(got["time"].values, ref["time"].values)
    # float32 values near 250 K: one ulp is 3e-5 K; batched matmuls differ by a few ulps at most
    np.testing.assert_allclose(got.values, ref.values, rtol=0, atol=1e-3)  # K, float32 rounding
    assert not list(tmp_path.glob(".*partial*"))


def test_failed_run_leaves_no_store(client, tiny_generator_dir, cond, tmp_path):
    store = tmp_path / "ens.zarr"
    job = submit_generation(
        FailsOnLastTimeChunk(tiny_generator_dir),
        cond,
        store,
        GenerationRequest(n_members=4, steps=2, sampler="ddim"),
        members_per_task=2,
        client=client,
        time_chunk=18,
    )
    assert job.tmp.is_dir() and not store.exists()  # only the temporary store exists while running
    with pytest.raises(OSError, match="injected"):
        job.result()
    assert not store.exists()
    assert list(tmp_path.iterdir()) == []


def test_without_a_cluster_tasks_run_in_this_process(tiny_generator_dir, cond, tmp_path, monkeypatch):
    monkeypatch.delenv("CLIMVIZ_DASK_SCHEDULER", raising=False)
    job = submit_generation(
        tiny_generator_dir,
        cond,
        tmp_path / "ens.zarr",
        GenerationRequest(n_members=3, steps=2, seed=4, sampler="ddim"),
        members_per_task=2,
        time_chunk=18,
    )
    assert job.result() == (tmp_path / "ens.zarr").absolute()
    assert list(job.peak_rss) == [f"local pid {os.getpid()}"]
    ref = EnsembleGenerator.from_checkpoint(tiny_generator_dir, device="cpu").generate(
        cond, GenerationRequest(n_members=3, steps=2, seed=4)
    )
    np.testing.assert_allclose(
        open_ensemble(job.store).values, ref.values, rtol=0, atol=1e-3
    )  # K, float32 rounding
    # a cancelled run leaves nothing behind
    job = submit_generation(
        tiny_generator_dir,
        cond,
        tmp_path / "other.zarr",
        GenerationRequest(n_members=4, steps=2, sampler="ddim"),
        members_per_task=1,
    )
    job.cancel()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ens.zarr"]


def test_cli_scheduler_writes_the_same_members(client, tiny_generator_dir, tiny_ensemble_file, tmp_path):
    common = [
        "generate",
        "--model-dir",
        str(tiny_generator_dir),
        "--cond",
        str(tiny_ensemble_file),
        "--member",
        "3",
        "--members",
        "3",
        "--steps",
        "2",
        "--start",
        "1991-01",
        "--end",
        "1991-12",
    ]
    assert main([*common, "-o", str(tmp_path / "one.nc")]) == 0
    assert (
        main(
            [
                *common,
                "-o",
                str(tmp_path / "many.zarr"),
                "--scheduler",
                client.scheduler.address,
                "--members-per-task",
                "2",
            ]
        )
        == 0
    )
    one, many = open_ensemble(tmp_path / "one.nc"), open_ensemble(tmp_path / "many.zarr")
    assert many.shape == (3, 12, 16, 32) and "member 3" in many.attrs["conditioning_source"]
    np.testing.assert_allclose(many.values, one.values, rtol=0, atol=1e-3)  # K, float32 rounding
    assert main([*common, "-o", str(tmp_path / "many.nc"), "--scheduler", client.scheduler.address]) == 2
