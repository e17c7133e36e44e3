import pytest
import torch

from climviz.nn.vae import VAE, VAEConfig, vae_loss


def _tiny():
    torch.manual_seed(0)
    return VAE(VAEConfig(channels=[4, 8, 8], latent_channels=2)).eval()


def test_shapes_and_downsampling():
    vae = _tiny()
    x = torch.randn(3, 1, 16, 32)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (3, 2, 4, 8)
    assert vae.decode(mu).shape == x.shape


def test_encoder_commutes_with_longitude_rotation():
    """Circular padding: rotating the input by one latent cell rotates the latent by one."""
    vae = _tiny()
    x = torch.randn(2, 1, 16, 32, dtype=torch.float64)
    vae = vae.double()
    f = vae.cfg.downsampling
    mu = vae.encode(x)[0]
    mu_rot = vae.encode(torch.roll(x, f, dims=-1))[0]
    torch.testing.assert_close(mu_rot, torch.roll(mu, 1, dims=-1))


def test_grid_not_divisible_is_a_clear_error():
    with pytest.raises(ValueError, match="not divisible"):
        _tiny().encode(torch.randn(1, 1, 18, 36))


def test_kl_is_zero_for_the_prior_and_area_weights_apply():
    x = torch.zeros(1, 1, 2, 2)
    x_hat = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    mu, logvar = torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1)
    w = torch.tensor([[2.0], [0.0]])
    loss, rec, kl = vae_loss(x, x_hat, mu, logvar, weights=w, beta=1.0)
    assert float(kl) == 0.0
    assert float(rec) == pytest.approx(1.0)  # only the weighted row counts: (2*1 + 2*1 + 0 + 0) / 4
