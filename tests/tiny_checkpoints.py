"""Tiny checkpoints trained in seconds, laid out as ``models/`` is (shared by the test folders).

``toy_ensemble_file`` writes a small embedded-ensemble file through ``climviz data``;
``train_ensemble`` trains a VAE and both sequence modes on a file through ``climviz train``;
``train_downscaler`` trains a TAUDiff mean model, residual and baseline through the library;
``build(root)`` makes ``root/ensemble`` and ``root/taudiff`` (+ ``taudiff-baseline``), the
layout the app and the notebooks read from ``CLIMVIZ_MODEL_DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from climviz.cli import main

ENSEMBLE_GRID = (24, 48)
WIND_GRID = (32, 64)


def toy_ensemble_file(path: Path, *, members=4, start=1990, end=1993, grid=ENSEMBLE_GRID, seed=0) -> Path:
    assert (
        main(
            [
                "data",
                "toy-ensemble",
                "-o",
                str(path),
                "--members",
                str(members),
                "--start",
                str(start),
                "--end",
                str(end),
                "--grid",
                f"{grid[0]}x{grid[1]}",
                "--seed",
                str(seed),
            ]
        )
        == 0
    )
    return path


def train_ensemble(
    data: Path,
    out: Path,
    *,
    members="0-2",
    steps=4,
    checkpoint_every=2,
    channels="4,8,8",
    d_model=32,
    ldm_args=(),
) -> Path:
    """VAE + one tunet denoiser (the default architecture) for both sampling modes in ``out`` (the CLI's layout).

    ``ldm_args``: more ``climviz train ldm`` options."""
    common = [
        "--data",
        str(data),
        "--model-dir",
        str(out),
        "--members",
        members,
        "--steps",
        str(steps),
        "--batch-size",
        "4",
        "--checkpoint-every",
        str(checkpoint_every),
        "--log-every",
        str(checkpoint_every),
    ]
    assert main(["train", "vae", *common, "--channels", channels, "--latent-channels", "2"]) == 0
    assert (
        main(
            [
                "train",
                "ldm",
                *common,
                "--mode",
                "both",
                "--d-model",
                str(d_model),
                "--window",
                "12",
                *ldm_args,
            ]
        )
        == 0
    )
    return out


def train_downscaler(root: Path, grid=WIND_GRID) -> Path:
    """``root/taudiff/{mean,residual}`` and ``root/taudiff-baseline``: coarse grid ``grid / 4``."""
    from climviz.data.toy_wind import toy_wind
    from climviz.nn.cau_unet import baseline_config, residual_config
    from climviz.nn.simvp import SimVPConfig
    from climviz.pipelines.downscale_training import train_taudiff
    from climviz.train.common import LoopSettings

    wind = toy_wind(grid=grid, days=2, seed=0, spinup_days=1)
    unet = dict(base=8, growth=4, mults=(1, 2), emb_dim=16)
    d = root / "taudiff"
    train_taudiff(
        wind,
        d,
        stage="all",
        simvp_config=SimVPConfig(
            frames=4, coarse_shape=(grid[0] // 4, grid[1] // 4), hid_s=8, hid_t=16, n_t=1
        ),
        residual_unet=residual_config(**unet),
        baseline_unet=baseline_config(**unet),
        settings=LoopSettings(steps=2, batch_size=2, lr=1e-3, checkpoint_every=100),
        device="cpu",
    )
    return d


def build(root, *, start=1990, end=1993) -> Path:
    """``root/ensemble`` (24x48 generator trained on ``start``-``end``) and the tiny downscaler."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    data = toy_ensemble_file(root / "toy24.nc", start=start, end=end)
    train_ensemble(data, root / "ensemble")
    train_downscaler(root)
    return root


if __name__ == "__main__":
    print(build(sys.argv[1]))
