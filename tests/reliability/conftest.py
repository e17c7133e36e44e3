"""A tiny trained ensemble generator (8x16 grid, 1990-1991) and the files the reliability tests feed it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

from toy_inputs import toy_tas  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """``<tmp>/ensemble`` trained through the CLI for two steps: VAE (8,8) and both sequence modes."""
    import tiny_checkpoints

    root = tmp_path_factory.mktemp("reliability-models")
    data = root / "toy.nc"
    toy_tas(members=3, seed=1).to_dataset().to_netcdf(data)
    return tiny_checkpoints.train_ensemble(data, root / "ensemble", steps=2, channels="8,8", d_model=16)


@pytest.fixture(scope="session")
def tiny_based_model_dir(tmp_path_factory) -> Path:
    """As :func:`tiny_model_dir`, with the residual taken from the same-month mean over +-1 year."""
    import tiny_checkpoints

    root = tmp_path_factory.mktemp("reliability-models-based")
    data = root / "toy.nc"
    toy_tas(members=3, seed=1).to_dataset().to_netcdf(data)
    return tiny_checkpoints.train_ensemble(
        data, root / "ensemble", steps=2, channels="8,8", d_model=16, ldm_args=("--base-years", "1")
    )


@pytest.fixture(scope="session")
def tiny_generator(tiny_model_dir):
    from climviz.pipelines.ensemble import EnsembleGenerator

    return EnsembleGenerator.from_checkpoint(tiny_model_dir, device="cpu")


@pytest.fixture(scope="session")
def cond_file(tmp_path_factory) -> Path:
    """A good conditioning run: one member on the model's grid, inside its years."""
    path = tmp_path_factory.mktemp("cond") / "cond.nc"
    toy_tas(members=1, seed=7).isel(member=0).to_dataset().to_netcdf(path)
    return path


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory):
    """``name -> (path, message regex)``: malformed inputs, see :mod:`malformed`."""
    import malformed

    return malformed.build(tmp_path_factory.mktemp("bad"))
