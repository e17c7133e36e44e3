"""The training loop resumes exactly where it stopped."""

import numpy as np
import torch
from safetensors.torch import load_file

from climviz.nn.vae import VAEConfig
from climviz.train.common import LoopSettings
from climviz.train.vae import train_vae


def _frames():
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 16, 32)).astype(np.float32)


def test_interrupted_and_resumed_training_equals_one_run(tmp_path):
    cfg = VAEConfig(channels=[4, 8, 8], latent_channels=2)
    w = np.ones(16)
    straight = tmp_path / "straight"
    torch.manual_seed(0)
    train_vae(
        _frames(),
        w,
        cfg,
        straight,
        LoopSettings(steps=6, batch_size=4, checkpoint_every=3),
        device=torch.device("cpu"),
    )
    split = tmp_path / "split"
    torch.manual_seed(0)  # same initial weights
    train_vae(
        _frames(),
        w,
        cfg,
        split,
        LoopSettings(steps=3, batch_size=4, checkpoint_every=3),
        device=torch.device("cpu"),
    )
    torch.manual_seed(123)  # a resumed run must not depend on fresh initial weights
    train_vae(
        _frames(),
        w,
        cfg,
        split,
        LoopSettings(steps=6, batch_size=4, checkpoint_every=3),
        device=torch.device("cpu"),
    )
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(split / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    fresh = tmp_path / "fresh"
    torch.manual_seed(0)
    train_vae(
        _frames(),
        w,
        cfg,
        fresh,
        LoopSettings(steps=3, batch_size=4, checkpoint_every=3),
        device=torch.device("cpu"),
    )
    c = load_file(str(fresh / "model.safetensors"))
    assert any(not torch.allclose(a[k], c[k]) for k in a)  # 6 steps differ from 3: the check can fail
