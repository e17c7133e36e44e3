"""Out-of-fold residual targets (``crossfit``): the blocks, the windows, and the stage end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from climviz.cli import main
from climviz.data.grid import gaussian_latitudes, regular_longitudes
from climviz.nn.simvp import SimVPConfig
from climviz.pipelines.downscale_training import crossfit_blocks, fold_dir, fold_starts, train_taudiff
from climviz.train.common import LoopSettings
from climviz.train.taudiff import grid_dict, train_mean_model

GRID = grid_dict(
    gaussian_latitudes(8), regular_longitudes(16), gaussian_latitudes(32), regular_longitudes(64)
)
NORM = {"variables": ["u", "v"], "mean": [0.0, 0.0], "std": [1.0, 1.0]}
SIMVP = dict(frames=4, coarse_shape=(8, 16), hid_s=8, hid_t=16, n_t=1)


def test_blocks_tile_the_steps_and_windows_avoid_the_left_out_block():
    assert crossfit_blocks(20, 2, 4) == [slice(0, 10), slice(10, 20)]
    assert crossfit_blocks(23, 3, 4) == [slice(0, 7), slice(7, 14), slice(14, 23)]
    assert fold_starts(20, 4, slice(0, 10)).tolist() == list(range(10, 17))
    assert fold_starts(20, 4, slice(10, 20)).tolist() == list(range(0, 7))
    middle = fold_starts(23, 4, slice(7, 14))
    assert middle.tolist() == [0, 1, 2, 3, 14, 15, 16, 17, 18, 19]
    with pytest.raises(ValueError, match="cannot make 3 folds of at least 4 steps"):
        crossfit_blocks(11, 3, 4)


def _pairs(n, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n, 2, 8, 16)).astype(np.float32),
        rng.normal(size=(n, 2, 32, 64)).astype(np.float32),
    )


def test_a_fold_model_never_sees_its_left_out_block(tmp_path):
    """NaN in the left-out block: any window touching it would make the loss NaN."""
    coarse, fine = _pairs(20)
    fine[10:] = np.nan
    settings = LoopSettings(steps=4, batch_size=4, lr=1e-3, checkpoint_every=100)
    kw = dict(norm=NORM, grid=GRID, device=torch.device("cpu"))
    fold = train_mean_model(
        coarse,
        fine,
        SimVPConfig(**SIMVP),
        tmp_path / "fold",
        settings,
        starts=fold_starts(20, 4, slice(10, 20)),
        **kw,
    )
    assert all(torch.isfinite(p).all() for p in fold.parameters())
    with pytest.raises(FloatingPointError, match="loss became nan"):  # the check can fail
        train_mean_model(coarse, fine, SimVPConfig(**SIMVP), tmp_path / "all", settings, **kw)


def test_crossfit_trains_folds_then_the_residual_on_out_of_fold_means(tmp_path):
    from climviz.data.toy_wind import toy_wind
    from climviz.nn.cau_unet import residual_config

    wind = toy_wind(grid=(32, 64), days=3, seed=0, spinup_days=1)  # 12 steps: 10 train, 2 held out
    settings = LoopSettings(steps=2, batch_size=2, lr=1e-3, checkpoint_every=100)
    d = tmp_path / "taudiff"
    out = train_taudiff(
        wind,
        d,
        stage="all",
        crossfit=2,
        simvp_config=SimVPConfig(**SIMVP),
        residual_unet=residual_config(base=8, growth=4, mults=(1, 2), emb_dim=16),
        settings=settings,
        device="cpu",
    )
    assert {"mean", "fold-1", "fold-2", "residual", "baseline"} <= set(out)
    times = wind["time"].values
    folds = [
        json.loads((fold_dir(d / "mean-folds", i, 2) / "config.json").read_text())["fold"] for i in (0, 1)
    ]
    assert folds[0] == {"index": 0, "of": 2, "left_out": [str(times[0]), str(times[4])]}
    assert folds[1]["left_out"] == [str(times[5]), str(times[9])]
    residual = json.loads((d / "residual" / "config.json").read_text())
    assert residual["residual_targets"].startswith("out-of-fold: 2 mean models")
    # a fold trained for another split is refused, not silently used
    with pytest.raises(ValueError, match="left out .* not .*retrain the folds stage"):
        train_taudiff(
            wind,
            d,
            stage="residual",
            crossfit=2,
            holdout=0.25,
            simvp_config=SimVPConfig(**SIMVP),
            settings=settings,
            device="cpu",
        )


def test_cli_fold_needs_the_folds_stage_and_a_valid_index(tmp_path, capsys):
    base = ["train", "taudiff", "--data", str(tmp_path / "w.nc"), "--model-dir", str(tmp_path / "m")]
    assert main(base + ["--stage", "folds", "--crossfit", "2", "--fold", "3"]) == 2
    assert "--fold 3 needs --stage folds and --crossfit K with 1 <= 3 <= K" in capsys.readouterr().err
    assert main(base + ["--stage", "mean", "--crossfit", "2", "--fold", "1"]) == 2
