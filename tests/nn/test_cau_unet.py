"""CAU-UNet denoiser: shapes, channel attention, roll equivariance, dense block."""

import pytest
import torch

from climviz.nn.cau_unet import CAUUNet, ChannelAttention, baseline_config, residual_config


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
