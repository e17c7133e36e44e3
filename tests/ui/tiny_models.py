"""Tiny ensemble generator and TAUDiff checkpoints for the dashboard tests (seconds to train).

``build(root)`` writes ``root/ensemble/{vae,transformer,autoregressive}``, ``root/taudiff/{mean,residual}``
and ``root/taudiff-baseline``: the layout of ``models/`` that the app reads (``CLIMVIZ_MODEL_DIR``).
The generator is on a 24x48 grid, the downscaler maps 8x16 -> 32x64 winds.
"""

from __future__ import annotations

import sys
from pathlib import Path

from climviz.cli import main

ENSEMBLE_GRID = (24, 48)
WIND_GRID = (32, 64)


def build_ensemble(root: Path) -> Path:
    data = root / "toy24.nc"
    assert main(["data", "toy-ensemble", "-o", str(data), "--members", "4", "--start", "1990",
                 "--end", "1993", "--grid", "24x48", "--seed", "0"]) == 0
    d = root / "ensemble"
    common = ["--data", str(data), "--model-dir", str(d), "--members", "0-2", "--steps", "4",
              "--batch-size", "4", "--checkpoint-every", "2", "--log-every", "2"]
    assert main(["train", "vae", *common, "--channels", "4,8,8", "--latent-channels", "2"]) == 0
    for mode in ("transformer", "autoregressive"):
        assert main(["train", "ldm", *common, "--mode", mode, "--d-model", "32", "--layers", "1",
                     "--heads", "2", "--window", "12"]) == 0
    return d


def build_downscaler(root: Path) -> Path:
    from climviz.data.toy_wind import toy_wind
    from climviz.nn.cau_unet import baseline_config, residual_config
    from climviz.nn.simvp import SimVPConfig
    from climviz.pipelines.downscale_training import train_taudiff
    from climviz.train.common import LoopSettings

    wind = toy_wind(grid=WIND_GRID, days=2, seed=0, spinup_days=1)
    unet = dict(base=8, growth=4, mults=(1, 2), emb_dim=16)
    d = root / "taudiff"
    train_taudiff(wind, d, stage="all", simvp_config=SimVPConfig(frames=4, coarse_shape=(8, 16), hid_s=8,
                                                                  hid_t=16, n_t=1),
                  residual_unet=residual_config(**unet), baseline_unet=baseline_config(**unet),
                  settings=LoopSettings(steps=2, batch_size=2, lr=1e-3, checkpoint_every=100), device="cpu")
    return d


def build(root) -> Path:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    build_ensemble(root)
    build_downscaler(root)
    return root


if __name__ == "__main__":
    print(build(sys.argv[1]))
