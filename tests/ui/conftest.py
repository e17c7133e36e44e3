"""Tiny models for the dashboard tests, laid out like ``models/`` (trained in seconds)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))

import tiny_checkpoints  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_root(tmp_path_factory):
    """``root/ensemble`` (24x48 generator), ``root/taudiff`` and ``root/taudiff-baseline`` (8x16 -> 32x64)."""
    return tiny_checkpoints.build(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def tiny_generator(tiny_model_root):
    from climviz.ui.sources import load_generator

    gen, note = load_generator(tiny_model_root)
    assert gen is not None, note
    return gen


@pytest.fixture(scope="session")
def tiny_downscalers(tiny_model_root):
    from climviz.ui.sources import load_downscalers

    td, base, note = load_downscalers(tiny_model_root)
    assert td is not None and base is not None, note
    return td, base
