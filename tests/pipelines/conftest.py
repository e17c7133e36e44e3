"""A tiny ensemble generator trained end to end through the CLI (seconds, not minutes)."""

import pytest

from climviz.cli import main


@pytest.fixture(scope="session")
def tiny_ensemble_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "toy.nc"
    assert main(["data", "toy-ensemble", "-o", str(path), "--members", "4", "--start", "1990",
                 "--end", "1993", "--grid", "16x32", "--seed", "3"]) == 0
    return path


@pytest.fixture(scope="session")
def tiny_generator_dir(tmp_path_factory, tiny_ensemble_file):
    d = tmp_path_factory.mktemp("models") / "ensemble"
    common = ["--data", str(tiny_ensemble_file), "--model-dir", str(d), "--members", "0-2",
              "--steps", "4", "--batch-size", "4", "--checkpoint-every", "2", "--log-every", "2"]
    assert main(["train", "vae", *common, "--channels", "4,8,8", "--latent-channels", "2"]) == 0
    for mode in ("transformer", "autoregressive"):
        assert main(["train", "ldm", *common, "--mode", mode, "--d-model", "32", "--layers", "1",
                     "--heads", "2", "--window", "12"]) == 0
    return d
