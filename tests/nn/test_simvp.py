"""SimVP-TAU mean model: shapes, spherical padding, interpolation, roll equivariance, overfitting."""

import numpy as np
import pytest
import torch

from climviz.data.grid import gaussian_latitudes
from climviz.nn.simvp import LatLonUpsample, SimVP, SimVPConfig, TemporalAttention

TINY = dict(frames=4, channels=2, coarse_shape=(8, 16), factor=4, hid_s=8, hid_t=32, n_s=2, n_t=2)


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return SimVP(SimVPConfig(**{**TINY, **kw})).eval()


def test_shapes_and_parameter_count():
    m = _model()
    y = m(torch.randn(3, 4, 2, 8, 16))
    assert y.shape == (3, 4, 2, 32, 64)
    assert torch.isfinite(y).all()
    with pytest.raises(ValueError, match="expects"):
        m(torch.randn(1, 3, 2, 8, 16))


def test_upsample_exact_for_linear_latitude_and_coarse_longitudes():
    lat_c, lat_f = gaussian_latitudes(8), gaussian_latitudes(32)
    up = LatLonUpsample(lat_c, lat_f, 16, 64)
    f = torch.tensor(2.0 + 0.05 * lat_c, dtype=torch.float32)[:, None].expand(8, 16)
    g = up(f)
    inside = (lat_f >= lat_c[0]) & (lat_f <= lat_c[-1])
    ref = torch.tensor(2.0 + 0.05 * lat_f, dtype=torch.float32)[:, None].expand(32, 64)
    assert torch.allclose(g[inside], ref[inside], atol=1e-5)
    assert torch.allclose(
        g[~inside][:, 0], torch.tensor(np.where(lat_f[~inside] < 0, f[0, 0], f[-1, 0]), dtype=torch.float32)
    )
    # fine longitude 4k sits on coarse longitude k: those columns are the coarse columns (lat-interpolated)
    h = torch.randn(8, 16)
    col = LatLonUpsample(lat_c, lat_f, 16, 16)(h)
    assert torch.allclose(up(h)[:, ::4], col, atol=1e-6)


def test_roll_equivariance_by_one_coarse_cell():
    m = _model(seed=1)
    with torch.no_grad():
        for p in m.parameters():  # break the small layer-scale init so every path matters
            p.add_(0.05 * torch.randn_like(p))
    x = torch.randn(2, 4, 2, 8, 16)
    with torch.no_grad():
        y = m(x)
        y_roll = m(torch.roll(x, 3, dims=-1))
    assert torch.allclose(y_roll, torch.roll(y, 12, dims=-1), atol=1e-5)
    # a roll that is not a multiple of the encoder stride is not a symmetry: the check can fail
    with torch.no_grad():
        y_odd = m(torch.roll(x, 1, dims=-1))
    assert not torch.allclose(y_odd, torch.roll(y, 3, dims=-1), atol=1e-3)


def test_temporal_attention_dynamical_branch_sees_time():
    """se depends on the time-folded channel means: scaling one frame's channels changes
    the gating of the others, which a purely static (per-channel conv) path would not."""
    torch.manual_seed(0)
    tau = TemporalAttention(16, reduction=4).eval()
    x = torch.randn(1, 16, 8, 16) + 1.0
    x2 = x.clone()
    x2[:, :8] *= 3.0  # change "frame 1" only
    with torch.no_grad():
        y, y2 = tau(x), tau(x2)
    assert not torch.allclose(y[:, 8:], y2[:, 8:], atol=1e-4)  # frame 2's output changed through se
    se = tau.se(x.mean(dim=(-2, -1)))
    f_x = tau.pw(tau.dw_dilated(tau.dw(x)))
    assert torch.allclose(y, se[..., None, None] * f_x * x, atol=1e-6)  # Eq. 4: se * f_x * u


def test_mean_model_overfits_one_pair(tmp_path):
    from climviz.train.common import LoopSettings
    from climviz.train.taudiff import grid_dict, train_mean_model, wind_statistics

    rng = np.random.default_rng(0)
    lat_c, lat_f = gaussian_latitudes(8), gaussian_latitudes(32)
    grid = grid_dict(lat_c, np.arange(16) * 22.5, lat_f, np.arange(64) * 5.625)
    coarse = rng.normal(0, 5, (4, 2, 8, 16)).astype(np.float32)
    up = LatLonUpsample(lat_c, lat_f, 16, 64)(torch.from_numpy(coarse)).numpy()
    fine = up + 0.1 * up**2  # a fixed, non-linear fine-scale correction the interpolation cannot make
    norm = wind_statistics(fine, lat_f)
    w = torch.tensor(np.cos(np.deg2rad(lat_f)) / np.cos(np.deg2rad(lat_f)).mean(), dtype=torch.float32)[
        :, None
    ]
    sd = torch.tensor(norm["std"])[:, None, None]
    interp_loss = float((((torch.from_numpy(up - fine) / sd) ** 2) * w).mean())  # the model's starting point
    cfg = SimVPConfig(**TINY)
    torch.manual_seed(0)
    model = train_mean_model(
        coarse,
        fine,
        cfg,
        tmp_path / "mean",
        LoopSettings(steps=150, batch_size=1, lr=1e-2, checkpoint_every=1000),
        norm=norm,
        grid=grid,
        device=torch.device("cpu"),
    )
    with torch.no_grad():
        pred = model(((torch.from_numpy(coarse) - torch.tensor(norm["mean"])[:, None, None]) / sd)[None])[0]
    loss = float(
        (((pred - (torch.from_numpy(fine) - torch.tensor(norm["mean"])[:, None, None]) / sd) ** 2) * w).mean()
    )
    assert loss < 0.2 * interp_loss, (loss, interp_loss)
    assert (tmp_path / "mean" / "model.safetensors").is_file()
