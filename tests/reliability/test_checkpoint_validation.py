"""Checkpoints load only from safetensors + JSON, and a bad config is refused before any network is built.

Each case copies the tiny trained generator, spoils one value of a
``config.json`` (or the weights file) and expects a :class:`CheckpointError`
whose one-line message names the file and the value, with no module built on
a real device.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from climviz.nn import checkpoint as ckpt
from climviz.nn.cau_unet import CAUUNet, CAUUNetConfig
from climviz.nn.checkpoint import CheckpointError
from climviz.nn.simvp import SimVP, SimVPConfig
from climviz.nn.spacetime_denoiser import SpaceTimeDenoiser
from climviz.nn.temporal_denoiser import TemporalDenoiser
from climviz.nn.tunet_denoiser import TemporalUNetDenoiser
from climviz.nn.vae import VAE
from climviz.pipelines.ensemble import EnsembleGenerator


def _edit(root, part, fn):
    path = root / part / "config.json"
    cfg = json.loads(path.read_text())
    fn(cfg)
    path.write_text(json.dumps(cfg))


def _set(section, key, value):
    def fn(cfg):
        cfg[section][key] = value

    return fn


def _drop(section, key=None):
    def fn(cfg):
        if key is None:
            del cfg[section]
        else:
            del cfg[section][key]

    return fn


@pytest.fixture
def built(monkeypatch):
    """Records every VAE/denoiser constructed on a real device (meta-device probes are free)."""
    seen: list[str] = []
    for cls in (VAE, TemporalDenoiser, SpaceTimeDenoiser, TemporalUNetDenoiser):
        init = cls.__init__

        def wrapped(self, cfg, _init=init, _name=cls.__name__):
            _init(self, cfg)
            if next(self.parameters()).device.type != "meta":
                seen.append(_name)

        monkeypatch.setattr(cls, "__init__", wrapped)
    return seen


CASES = [
    (
        "vae",
        _set("vae", "latent_channels", 0),
        r"vae/config.json\['vae'\]: latent_channels = 0 is outside \[1, 256\]",
    ),
    ("vae", _set("vae", "latent_channels", -3), "latent_channels = -3 is outside"),
    ("vae", _set("vae", "latent_channels", "2"), "latent_channels must be an integer, got '2'"),
    ("vae", _set("vae", "latent_channels", 2.0), "latent_channels must be an integer, got 2.0"),
    ("vae", _set("vae", "latent_channels", True), "latent_channels must be an integer, got True"),
    ("vae", _set("vae", "channels", [8, 10**9]), r"channels\[1\] = 1000000000 is outside \[1, 2048\]"),
    ("vae", _set("vae", "channels", []), "channels must not be empty"),
    ("vae", _set("vae", "channels", "8,8"), "channels must be a list"),
    ("vae", _set("vae", "channels", [8, 12]), r"last width in channels \(12\) must be a multiple of 8"),
    ("vae", _set("vae", "dropout", 0.1), r"unknown VAEConfig keys \['dropout'\]"),
    ("vae", _drop("vae", "latent_channels"), r"VAEConfig keys \['latent_channels'\] are missing"),
    ("vae", _drop("vae"), r"vae/config.json has no key 'vae'"),
    (
        "vae",
        _set("vae", "latent_channels", 3),
        r"latent_stats z_mean .* shape \[3, 4, 8\]|latent_shape \[2, 4, 8\] "
        r"does not match the latents \[3, 4, 8\]",
    ),
    (
        "vae",
        lambda c: c["grid"].update(lat=c["grid"]["lat"][:-1]),
        "grid has 7x16 points but the normalisation",
    ),
    ("vae", lambda c: c["grid"].update(lon=c["grid"]["lon"][::-1]), "grid lon must increase strictly"),
    ("vae", lambda c: c["grid"].update(lat=["a"] * 8), "grid lat must be a list of numbers"),
    (
        "transformer",
        _set("denoiser", "window", 0),
        r"transformer/config.json\['denoiser'\]: window = 0 is outside",
    ),
    ("transformer", _set("denoiser", "window", 10**9), "window = 1000000000 is outside"),
    ("transformer", _set("denoiser", "levels", 10**6), "levels = 1000000 is outside"),
    (
        "transformer",
        _set("denoiser", "d_model", 15),
        r"d_model must be a multiple of 8 \(GroupNorm\), got 15",
    ),
    ("transformer", _set("denoiser", "latent_shape", [2, 4]), "latent_shape must have 3 entries, got 2"),
    ("transformer", _set("denoiser", "time_kernel", 4), r"time_kernel must be odd, got 4"),
    (
        "transformer",
        _set("denoiser", "architecture", "other"),
        r"transformer/config.json\['denoiser'\]: unknown denoiser architecture 'other'",
    ),
    ("transformer", _set("denoiser", "local_channels", 2.5), "local_channels must be an integer"),
    (
        "transformer",
        _set("denoiser", "d_model", 64),
        r"do not fit its config: .*wrong shape \(cond_blocks\.0\.conv1\.bias is \[16\], the config needs \[64\]",
    ),
    ("transformer", _drop("schedule"), r"transformer/config.json has no key 'schedule'"),
    ("transformer", lambda c: c["schedule"].update(num_train_steps=-1), "num_train_steps must be an integer"),
    (
        "transformer",
        lambda c: c.update(mode="nope"),
        "mode 'nope' does not match its directory 'transformer'",
    ),
    (
        "transformer",
        lambda c: c["latent_stats"].update(z_std=[1.0]),
        r"latent_stats z_std .* shape \[2\], got shape \[1\]",
    ),
    (
        "transformer",
        lambda c: c.update(residual_base={"kind": "same-month mean", "years": 0}),
        r"transformer/config.json: residual_base years of a 'same-month mean' must be an integer >= 1, got 0",
    ),
    (
        "autoregressive",
        lambda c: c.update(residual_base={"kind": "running mean"}),
        r"autoregressive/config.json: residual_base unknown kind 'running mean'",
    ),
    (
        "autoregressive",
        _set("denoiser", "latent_shape", [2, 8, 16]),
        "latent_shape .* does not match the latents",
    ),
]


@pytest.mark.parametrize("part, spoil, message", CASES, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(CASES)])
def test_a_spoilt_config_is_refused_before_building(part, spoil, message, tiny_model_dir, tmp_path, built):
    root = tmp_path / "ensemble"
    shutil.copytree(tiny_model_dir, root)
    _edit(root, part, spoil)
    with pytest.raises(CheckpointError, match=message) as info:
        EnsembleGenerator.from_checkpoint(root, device="cpu")
    assert "\n" not in str(info.value)
    if "do not fit" in message:  # the VAE was fine; the denoiser was only probed on the meta device
        assert built == ["VAE"]
    else:
        assert built == [], "a network was built before the config was checked"


def test_the_unspoilt_copy_loads(tiny_model_dir, tmp_path, built):
    root = tmp_path / "ensemble"
    shutil.copytree(tiny_model_dir, root)
    gen = EnsembleGenerator.from_checkpoint(root, device="cpu")
    assert gen.modes == ["transformer", "autoregressive"] and sorted(built) == [
        "TemporalUNetDenoiser"
    ] * 2 + ["VAE"]


def test_weights_file_problems(tiny_model_dir, tmp_path):
    root = tmp_path / "ensemble"
    shutil.copytree(tiny_model_dir, root)
    weights = root / "vae" / ckpt.WEIGHTS
    good = weights.read_bytes()
    weights.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        EnsembleGenerator.from_checkpoint(root, device="cpu")
    weights.write_bytes(good[: len(good) - 100])  # header intact, data cut short
    with pytest.raises(CheckpointError, match="vae"):
        EnsembleGenerator.from_checkpoint(root, device="cpu")
    weights.write_bytes(good)
    (root / "vae" / "optimizer.pt").write_bytes(b"not even a pickle")
    with pytest.raises(CheckpointError, match=r"pickle files \['optimizer.pt'\]"):
        EnsembleGenerator.from_checkpoint(root, device="cpu")


# ----------------------------------------------------------------------------- the downscaler's configs


def _save(tmp_path, model, config):
    return ckpt.save_checkpoint(tmp_path / "ck", model, config)


def test_simvp_config_and_weights_are_checked(tmp_path):
    cfg = SimVPConfig(frames=2, coarse_shape=(4, 8), hid_s=4, hid_t=8, n_t=1)
    d = _save(tmp_path, SimVP(cfg), {"simvp": cfg.to_dict()})
    assert isinstance(ckpt.load_model(d, SimVP, SimVPConfig.from_dict(ckpt.load_config(d)["simvp"])), SimVP)
    for key, value, message in (
        ("coarse_lat", [-45.0, 0.0, 45.0], "coarse_lat has 3 latitudes, the grid has 4"),
        ("coarse_lat", [50.0, 10.0, -10.0, -50.0], "coarse_lat must be strictly ascending"),
        ("fine_lat", [100.0] * 16, r"fine_lat\[0\] = 100.0 is outside \[-90, 90\]"),
        ("coarse_shape", [4, 8, 2], "coarse_shape must have 2 entries"),
        ("n_s", 5, r"fine grid 16x32 is not divisible by 2\*\*n_s = 32"),
        ("factor", 0, r"factor = 0 is outside \[1, 16\]"),
    ):
        spoilt = {**cfg.to_dict(), key: value}
        with pytest.raises(CheckpointError, match=message):
            SimVPConfig.from_dict(ckpt.Config(spoilt, "simvp"))
    wider = SimVPConfig.from_dict({**cfg.to_dict(), "hid_t": 16})  # valid, but not these weights
    with pytest.raises(CheckpointError, match=r"do not fit its config: .*wrong shape"):
        ckpt.load_model(d, SimVP, wider)


def test_cau_unet_config_and_weights_are_checked(tmp_path):
    cfg = CAUUNetConfig(base=8, growth=4, mults=(1, 2), emb_dim=16)
    d = _save(tmp_path, CAUUNet(cfg), {"unet": cfg.to_dict()})
    assert CAUUNetConfig.from_dict(ckpt.load_config(d)["unet"]) == cfg
    for spoilt, message in (
        ({"mults": []}, "mults must not be empty"),
        ({"base": -8}, "base = -8 is outside"),
        ({"emb_dim": None}, "emb_dim must be an integer"),
        ({"extra": 1}, "unknown"),
    ):
        with pytest.raises(CheckpointError, match=message):
            CAUUNetConfig.from_dict({**cfg.to_dict(), **spoilt})
    torch.manual_seed(0)
    other = CAUUNetConfig(base=8, growth=4, mults=(1, 2, 2), emb_dim=16)
    with pytest.raises(CheckpointError, match="do not fit its config: .*missing"):
        ckpt.load_model(d, CAUUNet, other)
