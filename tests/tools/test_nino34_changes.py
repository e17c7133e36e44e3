"""tools/nino34_changes.py's figures on series whose answers are known."""

import importlib.util
from pathlib import Path

import numpy as np
import xarray as xr

_spec = importlib.util.spec_from_file_location(
    "nino34_changes", Path(__file__).resolve().parents[2] / "tools" / "nino34_changes.py"
)
nino34_changes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nino34_changes)


def _walks(n_members, n=20000, seed=0):
    rng = np.random.default_rng(seed)
    return xr.DataArray(rng.normal(size=(n_members, n)).cumsum(axis=1) * 0.1, dims=("member", "time"))


def test_independent_members_carry_none_of_the_conditioning_run():
    """Random walks with steps of std 0.1: change variance 0.01; an independent member's residual
    is itself minus the conditioning run, so its changes regress on minus the run's with slope 1."""
    cond, members = _walks(1, seed=1)[0], _walks(8, seed=2)
    f = nino34_changes.change_figures(cond, members)
    np.testing.assert_allclose(f["change variance (K^2)"], 0.01, rtol=0.03)
    assert abs(f["corr of changes with conditioning run's"]) < 0.03
    np.testing.assert_allclose(f["slope of residual changes on -conditioning changes"], 1.0, atol=0.03)


def test_copies_of_the_conditioning_run_are_all_of_it():
    """Members equal to the run: correlation 1, residual 0, slope 0."""
    cond = _walks(1, seed=3)[0]
    members = xr.concat([cond, cond], "member")
    f = nino34_changes.change_figures(cond, members)
    np.testing.assert_allclose(f["corr with conditioning run"], 1.0, atol=1e-12)
    np.testing.assert_allclose(f["corr of changes with conditioning run's"], 1.0, atol=1e-12)
    assert f["slope of residual changes on -conditioning changes"] == 0.0
