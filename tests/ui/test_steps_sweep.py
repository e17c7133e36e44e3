"""The step sweep (pipeline and tab state) with the tiny trained generator."""

import numpy as np
import pytest

from climviz.pipelines.steps_sweep import sweep_steps
from climviz.ui.sources import APP_SEED, embedded_members
from climviz.ui.steps_sweep import MAX_SWEEP_WORK_ENV, StepsSweep

GRID = (24, 48)


def _runs(months_years=(1990, 1990)):
    """Conditioning run (member 25), a held-out truth (26) and a true reference ensemble (27-29)."""
    runs = embedded_members((25, 26, 27, 28, 29), *months_years, GRID, APP_SEED)
    return runs.isel(member=0, drop=True), runs.isel(member=1, drop=True), runs.isel(member=slice(2, None))


def test_rows_for_each_step_count_same_steps_same_scores(tiny_generator):
    cond, truth, ref = _runs()
    cond, truth, ref = cond.isel(time=slice(0, 6)), truth.isel(time=slice(0, 6)), ref.isel(time=slice(0, 6))
    seen = []
    rows = sweep_steps(
        tiny_generator, cond, truth, steps=(2, 4, 4), reference=ref, n_members=3, seed=1,
        report=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert [r["steps"] for r in rows] == [2, 4, 4]
    keys = {"steps", "spread_ratio", "spread_skill", "crps_fair", "crps_reference", "wall_s"}
    for r in rows:
        assert set(r) == keys
        assert r["wall_s"] > 0 and r["crps_fair"] > 0 and r["spread_ratio"] > 0 and r["spread_skill"] > 0
    # the reference ensemble's score does not depend on the sampler: one value, positive
    assert rows[0]["crps_reference"] == rows[2]["crps_reference"] > 0
    # same seed and steps: the same ensemble, the same scores; other steps: another ensemble
    for k in ("crps_fair", "spread_ratio", "spread_skill"):
        assert rows[1][k] == pytest.approx(rows[2][k], rel=1e-6, abs=0)
        assert rows[0][k] != pytest.approx(rows[1][k], rel=1e-4, abs=0)
    # progress over the whole sweep: never back, ends at done
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1] == (1000, 1000) and 0 < done[len(done) // 2] < 1000


def test_without_reference_spread_ratio_is_nan(tiny_generator):
    cond, truth, _ = _runs()
    rows = sweep_steps(
        tiny_generator, cond.isel(time=slice(0, 3)), truth.isel(time=slice(0, 3)), steps=[1], n_members=2
    )
    assert np.isnan(rows[0]["spread_ratio"]) and np.isnan(rows[0]["crps_reference"])
    assert rows[0]["crps_fair"] > 0
    with pytest.raises(ValueError, match="steps"):
        sweep_steps(tiny_generator, cond, truth, steps=[0])


def test_state_runs_the_sweep_in_the_background(tiny_generator):
    calls = []

    def inputs():
        calls.append(1)
        return _runs()

    s = StepsSweep(tiny_generator, inputs=inputs, steps=[1, 3], n_members=2, n_months=4, seed=2)
    assert s.run_and_wait(timeout=300)
    assert s.error == "" and not s.running and s.version == 1 and s.progress == 1.0 and calls == [1]
    assert [r["steps"] for r in s.rows] == [1, 3]
    assert "Compared 2 step counts (1, 3)" in s.status
    # the state's rows are those of the pipeline on the first n_months months
    cond, truth, ref = (x.isel(time=slice(0, 4)) for x in _runs())
    direct = sweep_steps(tiny_generator, cond, truth, steps=[1, 3], reference=ref, n_members=2, seed=2)
    for a, b in zip(s.rows, direct):
        assert a["crps_fair"] == pytest.approx(b["crps_fair"], rel=1e-6)


def test_state_refuses_politely(tiny_generator, monkeypatch):
    assert not StepsSweep(None, note="no model here").start()
    s = StepsSweep(None, note="no model here")
    s.start()
    assert s.error == "no model here"
    s = StepsSweep(tiny_generator)
    assert not s.start() and "No conditioning run" in s.error
    monkeypatch.setenv(MAX_SWEEP_WORK_ENV, "100")
    s = StepsSweep(tiny_generator, inputs=_runs, steps=[2, 5], n_members=2, n_months=12)
    assert s.work() == 2 * 12 * 7
    assert not s.start() and "168" in s.error and MAX_SWEEP_WORK_ENV in s.error
    s.steps = []
    assert not s.start() and "Step counts" in s.error
