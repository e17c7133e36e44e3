"""Trains tiny models through the CLI and the library; run alone or under torchrun.

Used by ``test_ddp.py`` (not collected by pytest): ``python ddp_worker.py OUT DATA``.
Each rank records the checkpoint directories it wrote in ``OUT/writes-rank<R>.txt``
and its final TAUDiff weights in ``OUT/residual-rank<R>.pt``.
"""

import os
import sys
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

from climviz.cli import main
from climviz.nn import checkpoint as ckpt

out, data = Path(sys.argv[1]), sys.argv[2]
rank = int(os.environ.get("RANK", "0"))
_save = ckpt.save_checkpoint


def _recording_save(directory, model, config):
    with open(out / f"writes-rank{rank}.txt", "a") as f:
        f.write(f"{directory}\n")
    return _save(directory, model, config)


ckpt.save_checkpoint = _recording_save
common = [
    "--data",
    data,
    "--model-dir",
    str(out / "ens"),
    "--members",
    "0-2",
    "--batch-size",
    "4",
    "--checkpoint-every",
    "2",
    "--log-every",
    "1",
]
# 16 channels: with 8 channels each GroupNorm group is one channel, the bias before it has a true
# gradient of zero, its computed gradient is rounding noise, and Adam scales that up to ~lr.
vae = [*common, "--channels", "16,16,16", "--latent-channels", "2"]
torch.manual_seed(0)  # the CLI's --seed draws batches and noise; initial weights come from here
assert main(["train", "vae", *vae, "--steps", "2"]) == 0
torch.manual_seed(1)  # a resumed run takes its weights from the checkpoint
assert main(["train", "vae", *vae, "--steps", "3"]) == 0  # resumes from step 2
torch.manual_seed(0)
assert (
    main(
        [
            "train",
            "ldm",
            *common,
            "--steps",
            "3",
            "--mode",
            "autoregressive",
            "--d-model",
            "16",
            "--window",
            "12",
        ]
    )
    == 0
)
if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # an uneven split is refused on every rank
    assert (
        main(
            [
                "train",
                "vae",
                *vae,
                "--steps",
                "1",
                "--batch-size",
                "3",
                "--restart",
                "--model-dir",
                str(out / "uneven"),
            ]
        )
        == 2
    )

from climviz.data.grid import gaussian_latitudes, regular_longitudes
from climviz.nn.cau_unet import residual_config
from climviz.train.common import LoopSettings
from climviz.train.taudiff import grid_dict, train_residual_diffusion, wind_statistics

grid = grid_dict(gaussian_latitudes(4), regular_longitudes(8), gaussian_latitudes(16), regular_longitudes(32))
rng = np.random.default_rng(0)
coarse = rng.normal(0, 8, (6, 2, 4, 8)).astype(np.float32)
fine = rng.normal(0, 8, (6, 2, 16, 32)).astype(np.float32)
torch.manual_seed(0)
net = train_residual_diffusion(
    coarse,
    fine,
    0.5 * fine,
    residual_config(base=8, growth=4, mults=(1, 2), emb_dim=16),
    out / "residual",
    LoopSettings(steps=3, batch_size=4, lr=1e-3),
    norm=wind_statistics(fine, np.asarray(grid["fine_lat"])),
    grid=grid,
    num_train_steps=50,
    device=torch.device("cpu"),
)
torch.save(net.state_dict(), out / f"residual-rank{rank}.pt")
