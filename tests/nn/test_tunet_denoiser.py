"""The tunet latent denoiser: what it sees, what it ignores, what it costs; the low-frequency loss term."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from climviz.nn.tunet_denoiser import TemporalUNetDenoiser, TUNetConfig
from climviz.train.ldm import lowpass_error

SHAPE = (2, 4, 8)


def _net(**kw) -> TemporalUNetDenoiser:
    torch.manual_seed(0)
    net = TemporalUNetDenoiser(TUNetConfig(latent_shape=SHAPE, d_model=16, window=48, **kw))
    for p in net.parameters():  # the zero-initialised output layers would hide every dependence
        if p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.1)
    return net.eval()


def _inputs(b=2, n=48, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, *SHAPE, generator=g)
    cond = torch.randn(b, n, *SHAPE, generator=g)
    month = torch.arange(n).remainder(12)[None].expand(b, -1)
    return x, torch.tensor([10, 500])[:b], cond, month


@torch.no_grad()
def test_the_calendar_year_changes_nothing():
    net = _net()
    x, t, cond, month = _inputs()
    a = net(x, t, cond, month, year=torch.full(month.shape, 1900.0))
    b = net(x, t, cond, month, year=torch.full(month.shape, 2300.0))
    torch.testing.assert_close(a, b, rtol=0, atol=0)  # the same computation: equal bit for bit


@torch.no_grad()
def test_any_length_up_to_the_window_and_not_beyond():
    net = _net()
    x, t, cond, month = _inputs(n=48)
    for n in (1, 13, 37, 48):
        assert net(x[:, :n], t, cond[:, :n], month[:, :n]).shape == x[:, :n].shape
    with pytest.raises(ValueError, match="longer than the model's window 48"):
        net(
            torch.cat([x, x[:, :1]], 1),
            t,
            torch.cat([cond, cond[:, :1]], 1),
            torch.cat([month, month[:, :1]], 1),
        )


@torch.no_grad()
def test_the_flop_formula_matches_torch_counter():
    cfg = TUNetConfig(latent_shape=(4, 12, 24), window=120)
    net = TemporalUNetDenoiser(cfg).eval()
    b, n = 1, 120
    x = torch.zeros(b, n, *cfg.latent_shape)
    month = torch.arange(n).remainder(12)[None]
    with FlopCounterMode(display=False) as counter:
        net(x, torch.tensor([3]), x, month)
    counted = counter.get_total_flops() / (b * n)
    # the counter sees matmuls and convolutions only; the formula counts those too
    assert counted == pytest.approx(net.flops_per_month(), rel=0.02)


def test_lowpass_error_of_a_constant_and_of_white_noise():
    t, d = 48, 3
    err = torch.full((1, t, d), 2.0)
    keep = torch.zeros(1, t, dtype=torch.bool)
    # every 12-month mean of a constant is the constant: (t - 11) windows x d elements x 2^2
    assert lowpass_error(err, keep).item() == pytest.approx((t - 11) * d * 4.0)
    keep[:, :24] = True  # context frames count as zero error: windows over them average less
    expected = sum(((min(i + 12, t) - max(i, 24)) / 12 * 2.0) ** 2 for i in range(t - 11) if i + 12 > 24)
    assert lowpass_error(err, keep).item() == pytest.approx(expected * d)
    g = torch.Generator().manual_seed(0)
    white = torch.randn(64, 240, 10, generator=g)
    none = torch.zeros(64, 240, dtype=torch.bool)
    per_window = lowpass_error(white, none).item() / (64 * (240 - 11) * 10)
    assert per_window == pytest.approx(1 / 12, rel=0.05)  # the variance of a 12-sample mean


@torch.no_grad()
def test_fine_tuning_from_a_checkpoint_without_the_cell_parameters_starts_as_the_same_function(tmp_path):
    from safetensors.torch import save_file

    from climviz.train.ldm import _start_from

    old = _net(local_position=False)
    save_file(old.state_dict(), str(tmp_path / "model.safetensors"))
    new = TemporalUNetDenoiser(TUNetConfig(latent_shape=SHAPE, d_model=16, window=48, local_position=True))
    _start_from(new, tmp_path)
    x, t, cond, month = _inputs()
    torch.testing.assert_close(new(x, t, cond, month), old(x, t, cond, month), rtol=0, atol=0)
    # a parameter the checkpoint lacks that is not zero would change the function: refused
    with pytest.raises(ValueError, match="not zero-initialised"):
        _start_from(_net(local_position=True), tmp_path)


@torch.no_grad()
def test_fine_tuning_into_a_new_local_block_with_spatial_filters_starts_as_the_same_function(tmp_path):
    from safetensors.torch import save_file

    from climviz.train.ldm import _start_from

    old = _net(local_blocks=1, local_spatial=0)
    save_file(old.state_dict(), str(tmp_path / "model.safetensors"))
    torch.manual_seed(3)
    new = TemporalUNetDenoiser(
        TUNetConfig(latent_shape=SHAPE, d_model=16, window=48, local_blocks=2, local_spatial=3)
    )
    _start_from(new, tmp_path)
    x, t, cond, month = _inputs()
    torch.testing.assert_close(new(x, t, cond, month), old(x, t, cond, month), rtol=0, atol=0)
    # a new block that is not the identity would change the function: refused
    with torch.no_grad():
        new.local[1].mlp[2].bias.fill_(0.1)
    with pytest.raises(ValueError, match="not zero-initialised"):
        _start_from(new, tmp_path)


def test_local_spatial_filter_matches_a_depthwise_conv2d_periodic_in_longitude():
    from climviz.nn.tunet_denoiser import LocalBlock

    c, h, w = 3, 5, 8
    blk = LocalBlock(c, 4, 3, spatial=3)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        blk.sweight.copy_(torch.randn(3, 3, c, generator=g))
    u = torch.randn(2, 4, h, w, c, generator=g)
    # independent reference: conv2d (cross-correlation) on a circularly padded longitude axis
    x = u.permute(0, 1, 4, 2, 3).reshape(-1, c, h, w)
    x = F.pad(x, (1, 1, 0, 0), mode="circular")
    x = F.pad(x, (0, 0, 1, 1))
    ref = F.conv2d(x, blk.sweight.permute(2, 0, 1)[:, None], groups=c)
    ref = ref.reshape(2, 4, c, h, w).permute(0, 1, 3, 4, 2)
    torch.testing.assert_close(blk._spatial(u), ref, rtol=1e-5, atol=1e-5)
    # a unit impulse at the last longitude reaches the first one (periodic), not past the pole row
    imp = torch.zeros(1, 1, h, w, c)
    imp[0, 0, 0, w - 1] = 1.0
    out = blk._spatial(imp)[0, 0]
    torch.testing.assert_close(out[0, 0], blk.sweight[1, 0], rtol=0, atol=0)
    torch.testing.assert_close(out[1, w - 1], blk.sweight[0, 1], rtol=0, atol=0)
    assert out[2:].abs().sum() == 0


def test_configs_written_before_the_spatial_filter_load_without_it():
    d = TUNetConfig(latent_shape=SHAPE, d_model=16, window=48).to_dict()
    assert d["local_spatial"] == 3
    del d["local_spatial"]
    assert TUNetConfig.from_dict(d).local_spatial == 0
