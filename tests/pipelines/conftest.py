"""A tiny ensemble generator trained end to end through the CLI, a tiny downscaler (seconds, not minutes)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))

import tiny_checkpoints  # noqa: E402


@pytest.fixture(scope="session")
def tiny_ensemble_file(tmp_path_factory):
    return tiny_checkpoints.toy_ensemble_file(
        tmp_path_factory.mktemp("data") / "toy.nc", grid=(16, 32), seed=3
    )


@pytest.fixture(scope="session")
def tiny_generator_dir(tmp_path_factory, tiny_ensemble_file):
    return tiny_checkpoints.train_ensemble(tiny_ensemble_file, tmp_path_factory.mktemp("models") / "ensemble")


@pytest.fixture(scope="session")
def tiny_downscaler_dir(tmp_path_factory):
    """``.../taudiff`` (TAUDiff) beside ``.../taudiff-baseline``."""
    return tiny_checkpoints.train_downscaler(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def shipped_generator():
    """The shipped ensemble generator (models/ensemble), loaded once for the shipped-model tests."""
    from pathlib import Path

    from climviz.pipelines.ensemble import EnsembleGenerator

    return EnsembleGenerator.from_checkpoint(
        Path(__file__).resolve().parents[2] / "models" / "ensemble", device="cpu"
    )
