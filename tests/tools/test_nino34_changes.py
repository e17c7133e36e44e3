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


def test_change_variance_ratios_find_where_the_changes_are_too_large():
    """Generated = true fields with the Nino3.4 box scaled by sqrt(2): its ratio is 2, bands away
    from the equator 1, and the globe between (the box is a small share of the area)."""
    rng = np.random.default_rng(4)
    lat = np.linspace(-87.5, 87.5, 36)
    lon = np.arange(0.0, 360.0, 5.0)
    truth = xr.DataArray(
        rng.normal(size=(3, 50, lat.size, lon.size)),
        dims=("member", "time", "lat", "lon"),
        coords={"lat": lat, "lon": lon},
    )
    in_box = (abs(truth["lat"]) <= 5) & (truth["lon"] >= 190) & (truth["lon"] <= 240)
    generated = truth * xr.where(in_box, np.sqrt(2.0), 1.0)
    r = nino34_changes.change_variance_ratios(generated, truth)
    np.testing.assert_allclose(r["Nino3.4 box"], 2.0, rtol=1e-9)
    np.testing.assert_allclose([r["90S-30S"], r["30N-90N"]], 1.0, rtol=1e-12)
    assert 1.0 < r["globe"] < 1.05 and r["10S-10N"] > r["globe"]


def test_latent_change_ratios_per_channel_and_over_cells():
    """Channel 1 of the generated latents doubled: its ratio is 4, channel 0's 1. Cell (0, 0) of
    both channels doubled instead: 4 over that cell, whatever the rest."""
    rng = np.random.default_rng(5)
    z = rng.normal(size=(2, 30, 2, 3, 4))
    g = z.copy()
    g[:, :, 1] *= 2.0
    np.testing.assert_allclose(nino34_changes.latent_change_ratios(g, z), [1.0, 4.0], rtol=1e-12)
    g = z.copy()
    g[..., 0, 0] *= 2.0
    cells = np.zeros((3, 4), bool)
    cells[0, 0] = True
    np.testing.assert_allclose(nino34_changes.latent_change_ratios(g, z, cells)[-1], 4.0, rtol=1e-12)


def test_latent_cells_hold_the_blocks_a_region_touches():
    grid = np.zeros((8, 16), bool)
    grid[3:5, 5] = True  # rows 3-4 lie in 2-row blocks 1 and 2; column 5 in 4-column block 1
    cells = nino34_changes.latent_cells(grid, (4, 4))
    expected = np.zeros((4, 4), bool)
    expected[1:3, 1] = True
    assert np.array_equal(cells, expected)
