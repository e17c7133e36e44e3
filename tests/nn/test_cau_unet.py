"""CAU-UNet denoiser: shapes, channel attention (se and tau), roll equivariance, dense block,
the previous-residual input, and configs written before ``cau``/``prev_residual`` existed."""

import pytest
import torch

from climviz.nn.cau_unet import (
    CAUUNet,
    CAUUNetConfig,
    ChannelAttention,
    TAUChannelAttention,
    baseline_config,
    residual_config,
)
from climviz.nn.checkpoint import CheckpointError
from climviz.nn.simvp import TemporalAttention
from climviz.nn.static_attention import StaticAttention


def _net(cfg, seed=0):
    torch.manual_seed(seed)
    net = CAUUNet(cfg).eval()
    with torch.no_grad():  # the output layer starts at zero; give it weights so the checks see the network
        net.out.weight.normal_(0, 0.1)
        for blk in [*net.enc, net.mid, *net.dec]:
            blk.film.weight.normal_(0, 0.1)
    return net


def test_shapes_and_configs():
    r = residual_config(base=8, growth=4, mults=(1, 2, 2), emb_dim=16)
    b = baseline_config(base=8, growth=4, mults=(1, 2, 2), emb_dim=16)
    assert (r.in_channels, r.cond_channels, r.out_channels) == (2, 4, 2)
    assert (b.in_channels, b.cond_channels, b.out_channels) == (2, 2, 2)
    assert baseline_config().base > residual_config().base  # the baseline is the wider one by default
    net = _net(r)
    v = net(torch.randn(3, 2, 32, 64), torch.tensor([0, 500, 999]), torch.randn(3, 4, 32, 64))
    assert v.shape == (3, 2, 32, 64) and torch.isfinite(v).all()
    with pytest.raises(ValueError, match="divisible"):
        net(torch.randn(1, 2, 30, 64), torch.tensor([1]), torch.randn(1, 4, 30, 64))


def test_zero_initialised_output():
    net = CAUUNet(residual_config(base=8, growth=4, emb_dim=16))
    v = net(torch.randn(2, 2, 16, 32), torch.tensor([3, 700]), torch.randn(2, 4, 16, 32))
    assert torch.count_nonzero(v) == 0


def test_step_embedding_changes_output():
    net = _net(residual_config(base=8, growth=4, emb_dim=16))
    x, c = torch.randn(1, 2, 16, 32), torch.randn(1, 4, 16, 32)
    with torch.no_grad():
        assert not torch.allclose(net(x, torch.tensor([10]), c), net(x, torch.tensor([900]), c), atol=1e-5)


def test_channel_attention_is_squeeze_excitation():
    torch.manual_seed(0)
    cau = ChannelAttention(8, reduction=2)
    x = torch.randn(2, 8, 4, 6)
    gate = torch.sigmoid(cau.fc[2](torch.nn.functional.silu(cau.fc[0](x.mean(dim=(2, 3))))))
    assert torch.allclose(cau(x), x * gate[..., None, None], atol=1e-6)
    assert (gate > 0).all() and (gate < 1).all()


def test_roll_equivariance():
    net = _net(residual_config(base=8, growth=4, mults=(1, 2, 2), emb_dim=16), seed=3)
    x, c, t = torch.randn(2, 2, 16, 32), torch.randn(2, 4, 16, 32), torch.tensor([100, 800])
    with torch.no_grad():
        v = net(x, t, c)
        v4 = net(torch.roll(x, 4, -1), t, torch.roll(c, 4, -1))  # multiple of the 2 x 2 downsampling
        v1 = net(torch.roll(x, 1, -1), t, torch.roll(c, 1, -1))
    assert torch.allclose(v4, torch.roll(v, 4, -1), atol=1e-5)
    assert not torch.allclose(v1, torch.roll(v, 1, -1), atol=1e-4)  # stride 2: an odd roll is no symmetry


# ------------------------------------------------------------------ config keys cau, prev_residual
def _reference_se_forward(net, x, t, cond):
    """The CAU-UNet forward as written before ``cau``/``prev_residual`` existed: the stem sees
    ``[x, cond]``, each dense block ends with the squeeze-excitation ``f * fc(mean f)``."""
    from torch.nn import functional as F

    from climviz.nn.temporal_denoiser import timestep_embedding

    def block(blk, h, emb):
        scale, shift = blk.film(emb)[..., None, None].chunk(2, dim=1)
        feats = [blk.norm(h) * (1 + scale) + shift]
        for conv in blk.convs:
            feats.append(F.silu(conv(torch.cat(feats, dim=1))))
        f = blk.fuse(torch.cat(feats, dim=1))
        return h + f * blk.cau.fc(f.mean(dim=(-2, -1)))[..., None, None]

    emb = net.embed_t(timestep_embedding(t, net.cfg.emb_dim))
    h, skips = net.stem(torch.cat([x, cond], dim=1)), []
    for i, blk in enumerate(net.enc):
        h = block(blk, h, emb)
        if i < len(net.down):
            skips.append(h)
            h = net.down[i](h)
    h = block(net.mid, h, emb)
    for i in reversed(range(len(net.up))):
        h = net.up[i](torch.nn.functional.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = block(net.dec[i], net.merge[i](torch.cat([h, skips[i]], dim=1)), emb)
    return net.out(torch.nn.functional.silu(net.norm_out(h)))


def test_shipped_style_config_without_new_keys_builds_the_old_network():
    cfg = residual_config(base=8, growth=4, mults=(1, 2, 2), emb_dim=16)
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("cau", "prev_residual")}
    loaded = CAUUNetConfig.from_dict(old)
    assert loaded == cfg and loaded.cau == "se" and loaded.prev_residual is False
    net = _net(loaded, seed=5)
    assert all(type(b.cau) is ChannelAttention for b in [*net.enc, net.mid, *net.dec])
    assert net.stem.in_channels == 6  # x_t (2) + mean and coarse (4): the shipped weights fit
    x, c, t = torch.randn(2, 2, 16, 32), torch.randn(2, 4, 16, 32), torch.tensor([40, 600])
    with torch.no_grad():
        v, ref = net(x, t, c), _reference_se_forward(net, x, t, c)
    assert torch.equal(v, ref)  # the same computation, bit for bit
    with pytest.raises(ValueError, match="without prev_residual"):
        net(x, t, c, torch.zeros(2, 2, 16, 32))


def test_new_config_keys_are_checked():
    cfg = residual_config(base=8, growth=4, emb_dim=16, cau="tau", prev_residual=True)
    assert CAUUNetConfig.from_dict(cfg.to_dict()) == cfg
    for spoilt, message in (
        ({"cau": "cbam"}, "cau must be one of"),
        ({"cau": 1}, "cau must be a string"),
        ({"prev_residual": 1}, "prev_residual must be true or false"),
        ({"prev_residual": "yes"}, "prev_residual must be true or false"),
    ):
        with pytest.raises(CheckpointError, match=message):
            CAUUNetConfig.from_dict({**cfg.to_dict(), **spoilt})


def test_prev_residual_input_changes_the_output():
    net = _net(residual_config(base=8, growth=4, mults=(1, 2), emb_dim=16, prev_residual=True), seed=1)
    assert net.stem.in_channels == 8  # x_t, mean + coarse, previous residual
    x, c, t = torch.randn(2, 2, 16, 32), torch.randn(2, 4, 16, 32), torch.tensor([100, 900])
    prev = torch.randn(2, 2, 16, 32)
    with torch.no_grad():
        v = net(x, t, c, prev)
        v2 = net(x, t, c, prev + 0.5 * torch.randn_like(prev))
        v0, v_none = net(x, t, c, torch.zeros_like(prev)), net(x, t, c)
        v_other = net(x, t, c, torch.cat([prev[:1], prev[1:] + 1.0]))  # only item 1's prev changes
    assert (v - v2).abs().mean() > 1e-3 * v.abs().mean()
    assert torch.equal(v0, v_none)  # no predecessor = zeros
    torch.testing.assert_close(v_other[0], v[0], rtol=0, atol=1e-6)
    assert (v_other[1] - v[1]).abs().max() > 1e-4
    with pytest.raises(ValueError, match="prev must be"):
        net(x, t, c, torch.zeros(2, 1, 16, 32))


# ------------------------------------------------------------------ the "tau" CAU
def test_tau_cau_is_tau_on_one_frame_and_reuses_the_static_branch():
    torch.manual_seed(0)
    cau = TAUChannelAttention(8, reduction=2)
    assert type(cau.static) is StaticAttention and isinstance(TemporalAttention(8), StaticAttention)
    x = torch.randn(2, 8, 16, 32)
    f_x = cau.static.pw(cau.static.dw_dilated(cau.static.dw(x)))
    gate = torch.sigmoid(cau.se.fc[2](torch.nn.functional.silu(cau.se.fc[0](x.mean(dim=(2, 3))))))
    torch.testing.assert_close(cau(x), gate[..., None, None] * f_x * x, rtol=0, atol=1e-6)
    # depthwise 5x5 then 7x7 dilated by 3: a cell sees 23 x 23 cells (11 each way)
    probe = torch.zeros(1, 8, 32, 64, requires_grad=True)
    cau.static(probe)[0, :, 16, 32].sum().backward()
    cols = probe.grad[0].abs().sum(dim=(0, 1)).nonzero().squeeze(1)
    assert (int(cols.min()), int(cols.max())) == (32 - 11, 32 + 11)


def test_tau_cau_has_no_seam_in_longitude():
    torch.manual_seed(2)
    cau = TAUChannelAttention(8).eval()
    x = torch.randn(2, 8, 8, 16)  # tiny: the dilated kernel reaches past both poles
    with torch.no_grad():
        y = cau(x)
        for k in (1, 5, 8):
            torch.testing.assert_close(cau(torch.roll(x, k, -1)), torch.roll(y, k, -1), rtol=0, atol=1e-5)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_tau_network_shapes_roll_and_spatial_branch():
    cfg = residual_config(base=8, growth=4, mults=(1, 2, 2), emb_dim=16, cau="tau")
    net = _net(cfg, seed=4)
    assert all(type(b.cau) is TAUChannelAttention for b in [*net.enc, net.mid, *net.dec])
    x, c, t = torch.randn(2, 2, 16, 32), torch.randn(2, 4, 16, 32), torch.tensor([100, 800])
    with torch.no_grad():
        v = net(x, t, c)
        v4 = net(torch.roll(x, 4, -1), t, torch.roll(c, 4, -1))  # a multiple of the 2 x 2 downsampling
        assert v.shape == (2, 2, 16, 32) and torch.isfinite(v).all()
        torch.testing.assert_close(v4, torch.roll(v, 4, -1), rtol=0, atol=1e-5)
        for blk in (net.enc[0], net.mid):  # the spatial branch at full and lowest resolution
            w = blk.cau.static.dw_dilated.weight
            saved = w.clone()
            w.add_(0.5 * torch.randn_like(w))
            assert (net(x, t, c) - v).abs().max() > 1e-4
            w.copy_(saved)
        torch.testing.assert_close(net(x, t, c), v, rtol=0, atol=0)
