"""The shipped TAUDiff downscaler and baseline (models/taudiff, models/taudiff-baseline) load and downscale.

A fresh synthetic wind case (seed never used in training), coarsened as in
training, downscaled at a tiny setting (4 frames, 2 samples, 10 steps). The
spectral checks are the method's point: the mean model lacks small-scale
energy, the diffusion samples put it back.
"""

from pathlib import Path

import numpy as np
import pytest

from climviz.data.coarsen import coarsen
from climviz.data.toy_wind import toy_wind
from climviz.diagnostics.spectra import ke_spectrum
from climviz.pipelines.downscale import BaselineDownscaler, Downscaler, load_downscaler
from climviz.requests import DownscaleRequest

MODELS = Path(__file__).resolve().parents[2] / "models"
MEAN_DEFICIT = 0.8  # median KE ratio of the mean model at degrees 21-33 stays below this
SAMPLE_BAND = (0.6, 1.6)  # and that of the TAUDiff samples inside this


@pytest.fixture(scope="module")
def case():
    td = load_downscaler(MODELS / "taudiff", device="cpu")
    fine = toy_wind(grid=(len(td.lat), len(td.lon)), days=1.0, seed=12345, spinup_days=3.0)[["u", "v"]]
    return td, fine, coarsen(fine, 4)


@pytest.fixture(scope="module")
def downscaled(case):
    td, _, coarse = case
    return td.downscale(coarse, DownscaleRequest(n_samples=2, steps=10, seed=0))


def _ke(u, v):
    s = ke_spectrum(u, v)
    return s.mean([d for d in s.dims if d != "degree"]).values


def test_loads_with_the_grid_it_was_trained_on(case):
    td, fine, coarse = case
    assert isinstance(td, Downscaler)
    assert isinstance(load_downscaler(MODELS / "taudiff-baseline", device="cpu"), BaselineDownscaler)
    assert (len(td.lat), len(td.lon)) == (64, 128) and coarse.sizes["lat"] == 16


def test_shapes_units_and_same_seed_same_samples(case, downscaled):
    td, fine, coarse = case
    n = fine.sizes["time"]
    assert downscaled["u"].shape == (2, n, 64, 128) and downscaled["u_mean"].shape == (n, 64, 128)
    assert downscaled["u"].attrs["units"] == "m s-1"
    assert np.isfinite(downscaled["u"].values).all() and np.isfinite(downscaled["v"].values).all()
    again = td.downscale(coarse.isel(time=slice(0, 4)), DownscaleRequest(n_samples=2, steps=10, seed=0))
    # fewer frames means other array shapes, hence other rounding: equal within 1e-3 m/s
    np.testing.assert_allclose(
        again["u"].values, downscaled["u"].isel(time=slice(0, 4)).values, rtol=0, atol=1e-3
    )


def test_mean_is_close_and_samples_restore_small_scale_energy(case, downscaled):
    _, fine, _ = case
    truth = _ke(fine["u"], fine["v"])
    mean = _ke(downscaled["u_mean"], downscaled["v_mean"])
    samples = _ke(downscaled["u"], downscaled["v"])
    big = slice(1, 8)
    small = slice(int(0.5 * 42), int(0.8 * 42))  # the toy wind resolves degrees below 42
    np.testing.assert_allclose(mean[big], truth[big], rtol=0.25)  # large scales right
    assert np.median(mean[small] / truth[small]) < MEAN_DEFICIT  # the mean is too smooth
    ratio = np.median(samples[small] / truth[small])
    assert SAMPLE_BAND[0] < ratio < SAMPLE_BAND[1]  # the samples are not
