"""Training, validation and test periods of the downscaler: where they lie, and what each stage reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from climviz.cli import main
from climviz.nn.cau_unet import baseline_config, residual_config
from climviz.nn.simvp import SimVPConfig
from climviz.pipelines.downscale_training import train_taudiff
from climviz.pipelines.wind_data import split_periods, split_time
from climviz.train.common import LoopSettings
from climviz.train.taudiff import diffusion_validation, even_picks, mean_validation

SIMVP = dict(frames=4, coarse_shape=(8, 16), hid_s=8, hid_t=16, n_t=1)
UNET = dict(base=8, growth=4, mults=(1, 2), emb_dim=16)


@pytest.mark.parametrize(
    ("n", "val_days", "test_days", "lengths"),
    [(5840, 180, 365, (3660, 720, 1460)), (400, None, 20, (320, 0, 80)), (17, 1.0, 1.0, (9, 4, 4))],
)
def test_periods_tile_the_time_axis_in_order(n, val_days, test_days, lengths):
    p = split_periods(n, step_hours=6.0, val_days=val_days, test_days=test_days)
    parts = [p.train, p.val or slice(p.train.stop, p.train.stop), p.test]
    assert [s.stop - s.start for s in parts] == list(lengths)
    assert p.train.start == 0 and p.test.stop == n
    assert parts[0].stop == parts[1].start and parts[1].stop == parts[2].start  # no gap, no overlap
    assert (p.val is None) == (val_days is None)


def test_default_split_is_the_old_holdout_and_bad_requests_fail():
    assert split_periods(400) == split_periods(400, holdout=0.2)
    assert split_time(400) == (slice(0, 320), slice(320, 400))
    assert split_periods(400, holdout=0.5, step_hours=6.0, test_days=10).test == slice(360, 400)
    with pytest.raises(ValueError, match="too few"):
        split_periods(16, step_hours=6.0, val_days=2, test_days=2)
    with pytest.raises(ValueError, match="shorter than one 6 h time step"):
        split_periods(16, step_hours=6.0, test_days=0.1)
    with pytest.raises(ValueError, match="readable step"):
        split_periods(16, test_days=1)


def test_even_picks_span_the_period():
    assert even_picks(5, 64).tolist() == [0, 1, 2, 3, 4]
    picks = even_picks(1000, 8)
    assert len(picks) == 8 and picks[0] == 0 and picks[-1] == 999


def test_validation_losses_are_fixed_and_match_a_reference():
    rng = np.random.default_rng(0)
    coarse = rng.normal(size=(10, 2, 8, 16)).astype(np.float32)
    fine = rng.normal(3.0, 2.0, size=(10, 2, 32, 64)).astype(np.float32)
    norm = {"variables": ["u", "v"], "mean": [1.0, -1.0], "std": [2.0, 4.0]}
    w = torch.linspace(0.5, 1.5, 32)[:, None]
    validate = mean_validation(coarse, fine, 4, norm, w, "cpu", samples=3)

    def zeros(x):  # [B, T, C, h, w] -> [B, T, C, H, W]
        return torch.zeros(*x.shape[:3], 32, 64)

    y = (fine - np.array([1.0, -1.0])[:, None, None]) / np.array([2.0, 4.0])[:, None, None]
    windows = [0, 3, 6]  # 3 windows of 4 evenly spread over the 7 starts
    ref = np.mean([(y[s : s + 4] ** 2 * w.numpy()).mean() for s in windows])
    assert validate(zeros) == pytest.approx(ref, rel=1e-5)

    from climviz.diffusion.schedule import CosineSchedule

    x0 = torch.from_numpy(fine[:, :, :, :])
    cond = torch.zeros(10, 2, 32, 64)
    net = torch.nn.Conv2d(2, 2, 3, padding=1)
    a = diffusion_validation(x0, cond, CosineSchedule(50), w, samples=6)
    b = diffusion_validation(x0, cond, CosineSchedule(50), w, samples=6)

    def model(m):
        return lambda xt, t, c: m(xt)

    assert a(model(net)) == b(model(net)) == a(model(net))  # fixed frames, steps and noise
    other = torch.nn.Conv2d(2, 2, 3, padding=1)
    assert a(model(other)) != a(model(net))


@pytest.fixture(scope="module")
def wind():
    from climviz.data.toy_wind import toy_wind

    return toy_wind(grid=(32, 64), days=5, seed=0, spinup_days=1)  # 20 steps: 12 train, 4 val, 4 test


def _train(wind, root, **kw):
    settings = LoopSettings(steps=4, batch_size=2, lr=1e-3, checkpoint_every=100, eval_every=2)
    return train_taudiff(
        wind,
        root,
        stage="all",
        simvp_config=SimVPConfig(**SIMVP),
        residual_unet=residual_config(**UNET),
        baseline_unet=baseline_config(**UNET),
        settings=kw.pop("settings", settings),
        device="cpu",
        **kw,
    )


def test_test_frames_never_reach_training_and_val_frames_only_validation(wind, tmp_path):
    """NaN in the test period: a training batch, the normalisation or a validation loss that read
    one would turn NaN (and the loop raises). NaN in the validation period too, without validation:
    training reads none of it either."""
    times = wind["time"].values
    poisoned = wind.copy(deep=True)
    poisoned["u"][16:] = np.nan
    out = _train(poisoned, tmp_path / "a", val_days=1, test_days=1)
    for stage, d in (("mean", out["mean"]), ("residual", out["residual"]), ("baseline", out["baseline"])):
        cfg = json.loads((d / "config.json").read_text())
        assert cfg["train_period"] == [str(times[0]), str(times[11])], stage
        assert cfg["val_period"] == [str(times[12]), str(times[15])]
        assert cfg["heldout_period"] == [str(times[16]), str(times[19])]
        assert all(np.isfinite(cfg["normalization"]["std"]))
        val = cfg["validation"]
        assert [h[0] for h in val["history"]] == [2, 4] and all(np.isfinite(h[1]) for h in val["history"])
        assert val["best_step"] in (2, 4) and cfg["trained_steps"] == val["best_step"]
    poisoned["u"][12:16] = np.nan
    no_val = LoopSettings(steps=2, batch_size=2, lr=1e-3, checkpoint_every=100)
    out = _train(poisoned, tmp_path / "b", val_days=1, test_days=1, settings=no_val)
    assert "validation" not in json.loads((out["mean"] / "config.json").read_text())
    with pytest.raises((FloatingPointError, ValueError)):  # the check can fail: NaN in training
        _train(poisoned, tmp_path / "c", val_days=0.25, test_days=0.25, settings=no_val)


def test_cli_split_options(wind, tmp_path, capsys):
    from climviz.data.io import write_dataset

    data = write_dataset(wind, tmp_path / "w.nc")
    base = ["train", "taudiff", "--data", str(data), "--model-dir", str(tmp_path / "m")]
    assert main(base + ["--eval-every", "2"]) == 2
    assert "--eval-every needs --val-days" in capsys.readouterr().err
    assert main(base + ["--patience", "2"]) == 2
    assert "--patience needs --val-days" in capsys.readouterr().err
    assert main(base + ["--val-days", "4", "--test-days", "1"]) == 2
    assert "too few" in capsys.readouterr().err
    args = ["--stage", "mean", "--steps", "4", "--batch-size", "2", "--val-days", "2", "--test-days", "1"]
    assert main(base + args + ["--eval-every", "2", "--patience", "1"]) == 0
    cfg = json.loads((tmp_path / "m" / "mean" / "config.json").read_text())
    assert cfg["settings"]["eval_every"] == 2 and cfg["settings"]["patience"] == 1
    assert len(cfg["validation"]["history"]) in (1, 2, 3)
    times = wind["time"].values
    assert cfg["val_period"] == [str(times[8]), str(times[15])]
    assert cfg["heldout_period"] == [str(times[16]), str(times[19])]
    # evaluating on frames the model trained or validated on is refused (for the same file)
    from climviz.pipelines.downscale_eval import _check_unseen

    mean_dir = tmp_path / "m" / "mean"
    _check_unseen(times[16], str(data), mean_dir)
    _check_unseen(times[12], "another-file.nc", mean_dir)
    with pytest.raises(ValueError, match="inside the val_period"):
        _check_unseen(times[12], str(data), mean_dir)
    with pytest.raises(ValueError, match="inside the train_period"):
        _check_unseen(times[7], str(data), mean_dir)
    # scoring the validation period (to choose sampling settings) only refuses the training period
    _check_unseen(times[8], str(data), mean_dir, ("train_period",))
    with pytest.raises(ValueError, match="inside the train_period"):
        _check_unseen(times[7], str(data), mean_dir, ("train_period",))
