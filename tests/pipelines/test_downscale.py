"""Downscaler (TAUDiff) and BaselineDownscaler: xarray edges, windows, seeds, checkpoints, sampled spread."""

import numpy as np
import pytest
import torch
import xarray as xr

from climviz.data.grid import gaussian_latitudes, regular_longitudes
from climviz.diffusion.schedule import CosineSchedule
from climviz.nn.cau_unet import CAUUNet, baseline_config, residual_config
from climviz.nn.simvp import SimVP, SimVPConfig
from climviz.nn.wind_fields import normalize
from climviz.pipelines.downscale import (
    BaselineDownscaler,
    Downscaler,
    FrameDiffusion,
    load_downscaler,
    predict_mean,
    window_starts,
)
from climviz.requests import DownscaleRequest
from climviz.train.common import LoopSettings
from climviz.train.taudiff import (
    grid_dict,
    train_baseline,
    train_mean_model,
    train_residual_diffusion,
    wind_statistics,
)


def _grid(hc, wc):
    return grid_dict(
        gaussian_latitudes(hc), regular_longitudes(wc), gaussian_latitudes(4 * hc), regular_longitudes(4 * wc)
    )


GRID = _grid(8, 16)
NORM = {"variables": ["u", "v"], "mean": [5.0, 0.0], "std": [10.0, 8.0]}
SIMVP = dict(frames=4, coarse_shape=(8, 16), hid_s=8, hid_t=16, n_t=1)
UNET = dict(base=8, growth=4, mults=(1, 2), emb_dim=16)


def _coarse(n, grid=GRID, seed=0, **attrs):
    rng = np.random.default_rng(seed)
    lat, lon = np.asarray(grid["coarse_lat"]), np.asarray(grid["coarse_lon"])
    shape = (n, lat.size, lon.size)
    time = xr.date_range("2000-01-01", periods=n, freq="6h", calendar="proleptic_gregorian", use_cftime=True)
    return xr.Dataset(
        {
            "u": (("time", "lat", "lon"), rng.normal(5, 10, shape).astype(np.float32), {"units": "m s-1"}),
            "v": (("time", "lat", "lon"), rng.normal(0, 8, shape).astype(np.float32), {"units": "m s-1"}),
        },
        coords={"time": time, "lat": lat, "lon": lon},
        attrs=attrs,
    )


def _parts(seed=0):
    torch.manual_seed(seed)
    mean_model = SimVP(SimVPConfig(**SIMVP)).eval()
    net = CAUUNet(residual_config(**UNET)).eval()
    with torch.no_grad():
        net.out.weight.normal_(0, 0.2)  # zero at init; give it weights so samples depend on the noise
    return mean_model, FrameDiffusion(net, CosineSchedule(100), [1.5, 0.5])


def _downscaler(seed=0):
    mean_model, res = _parts(seed)
    return Downscaler(mean_model, res, NORM, GRID, device="cpu")


def test_output_dims_coords_attrs():
    ds = _downscaler().downscale(_coarse(6, synthetic="yes"), DownscaleRequest(n_samples=2, steps=3, seed=1))
    assert ds["u"].dims == ("sample", "time", "lat", "lon") and ds["u"].shape == (2, 6, 32, 64)
    assert ds["u_mean"].dims == ("time", "lat", "lon") and ds["v_mean"].shape == (6, 32, 64)
    np.testing.assert_allclose(ds["lat"], GRID["fine_lat"])
    assert ds["u"].attrs["standard_name"] == "eastward_wind" and ds["v"].attrs["units"] == "m s-1"
    for key in ("mean_model_s", "diffusion_s", "sampler", "steps", "seed", "created", "generator"):
        assert key in ds.attrs
    assert ds.attrs["input_synthetic"] == "yes" and ds.attrs["diffusion_s"] > 0
    assert np.isfinite(ds["u"]).all()


def test_window_stitching_matches_direct_calls():
    assert window_starts(6, 4) == [0, 2] and window_starts(8, 4) == [0, 4] and window_starts(4, 4) == [0]
    d = _downscaler()
    x = normalize(torch.randn(6, 2, 8, 16) * 8 + 3, NORM)
    m = predict_mean(d.mean_model, x)
    with torch.no_grad():
        a, b = d.mean_model(x[None, 0:4])[0], d.mean_model(x[None, 2:6])[0]
    assert torch.allclose(m[:4], a, atol=1e-6) and torch.allclose(m[4:], b[2:], atol=1e-6)
    short = predict_mean(d.mean_model, x[:3])  # shorter than T: padded with the last frame
    with torch.no_grad():
        c = d.mean_model(torch.cat([x[:3], x[2:3]])[None])[0]
    assert short.shape[0] == 3 and torch.allclose(short, c[:3], atol=1e-6)


def test_same_seed_same_samples_and_sample_k_independent_of_count():
    d = _downscaler()
    coarse = _coarse(5)
    a = d.downscale(coarse, DownscaleRequest(n_samples=2, steps=4, seed=7, sampler="ddpm"))
    b = d.downscale(coarse, DownscaleRequest(n_samples=2, steps=4, seed=7, sampler="ddpm"))
    c = d.downscale(coarse, DownscaleRequest(n_samples=2, steps=4, seed=8, sampler="ddpm"))
    one = d.downscale(coarse, DownscaleRequest(n_samples=1, steps=4, seed=7, sampler="ddpm"))
    np.testing.assert_array_equal(a["u"].values, b["u"].values)
    assert np.abs(a["u"].values - c["u"].values).max() > 1e-3
    assert np.abs(a["u"][0].values - a["u"][1].values).max() > 1e-3
    # another batch size runs other BLAS/conv kernels: equal to float32 rounding, not bit for bit
    np.testing.assert_allclose(one["u"][0].values, a["u"][0].values, rtol=0, atol=1e-3)
    np.testing.assert_array_equal(a["u_mean"].values, c["u_mean"].values)  # the mean model is deterministic


def test_progress_counts_network_evaluations():
    seen = []
    _downscaler().downscale(
        _coarse(6),
        DownscaleRequest(n_samples=2, steps=3, batch_frames=4),
        progress=lambda d, t: seen.append((d, t)),
    )
    # 2 mean windows + 2 samples x 2 frame batches x 3 steps
    assert seen[-1] == (14, 14) and [s[0] for s in seen] == list(range(1, 15))


def test_validation_errors():
    d = _downscaler()
    with pytest.raises(ValueError, match="grid"):
        d.downscale(_coarse(4, grid=_grid(16, 32)), DownscaleRequest())
    with pytest.raises(ValueError, match="lacks"):
        d.downscale(_coarse(4).drop_vars("v"), DownscaleRequest())
    bad = _coarse(4)
    bad["u"][1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        d.downscale(bad, DownscaleRequest())
    with pytest.raises(ValueError, match="dims"):
        d.downscale(_coarse(4).expand_dims(member=2), DownscaleRequest())
    with pytest.raises(ValueError, match="n_samples"):
        d.downscale(_coarse(4), DownscaleRequest(n_samples=0))


def test_checkpoints_roundtrip_and_baseline(tmp_path):
    rng = np.random.default_rng(0)
    n = 8
    coarse = rng.normal(0, 8, (n, 2, 8, 16)).astype(np.float32)
    fine = rng.normal(0, 8, (n, 2, 32, 64)).astype(np.float32)
    norm = wind_statistics(fine, np.asarray(GRID["fine_lat"]))
    settings = LoopSettings(steps=2, batch_size=2, lr=1e-3, checkpoint_every=100)
    kw = dict(norm=norm, grid=GRID, device=torch.device("cpu"))
    mean_model = train_mean_model(
        coarse, fine, SimVPConfig(**SIMVP), tmp_path / "td" / "mean", settings, **kw
    )
    mean = predict_mean(mean_model, normalize(torch.from_numpy(coarse), norm))
    mean = (
        mean * torch.tensor(norm["std"])[:, None, None] + torch.tensor(norm["mean"])[:, None, None]
    ).numpy()
    res_net = train_residual_diffusion(
        coarse,
        fine,
        mean,
        residual_config(**UNET),
        tmp_path / "td" / "residual",
        settings,
        num_train_steps=100,
        **kw,
    )
    base_net = train_baseline(
        coarse, fine, baseline_config(**UNET), tmp_path / "base", settings, num_train_steps=100, **kw
    )
    loaded = load_downscaler(tmp_path / "td", device="cpu")
    assert isinstance(loaded, Downscaler)
    ds = _coarse(3)
    a = loaded.downscale(ds, DownscaleRequest(n_samples=1, steps=3, seed=2))
    res = FrameDiffusion.from_checkpoint(tmp_path / "td" / "residual", "taudiff-residual")[0]
    assert torch.equal(res.net.out.weight, res_net.out.weight)
    b = Downscaler(mean_model, res, norm, GRID, device="cpu").downscale(
        ds, DownscaleRequest(n_samples=1, steps=3, seed=2)
    )
    np.testing.assert_allclose(a["u"].values, b["u"].values, rtol=1e-6, atol=1e-6)
    base = load_downscaler(tmp_path / "base", device="cpu")
    assert isinstance(base, BaselineDownscaler)
    assert torch.equal(base.diffusion.net.out.weight, base_net.out.weight)
    c = base.downscale(ds, DownscaleRequest(n_samples=2, steps=3, seed=2))
    assert c["u"].shape == (2, 3, 32, 64) and c.attrs["mean_model_s"] == 0.0
    np.testing.assert_allclose(c["u_mean"].values, c["u"].values.mean(0), rtol=1e-5, atol=1e-5)
    with pytest.raises(Exception, match="baseline|TAUDiff"):
        load_downscaler(tmp_path / "nothing-here")


def test_residual_diffusion_learns_conditional_spread(tmp_path):
    """Residuals are white Gaussian noise whose std equals the (constant) coarse wind c, for
    c = 0.5 and 2.0 m/s. After training, samples must have std c (within 15%) for each c: an
    untrained network (v = 0 at init) would give about the same spread for both."""
    grid = _grid(2, 4)  # fine 8 x 16
    rng = np.random.default_rng(0)
    n = 256
    c = np.where(np.arange(n) % 2 == 0, 0.5, 2.0).astype(np.float32)
    coarse = np.broadcast_to(c[:, None, None, None], (n, 2, 2, 4)).copy()
    mean = np.broadcast_to(c[:, None, None, None], (n, 2, 8, 16)).copy()
    fine = mean + c[:, None, None, None] * rng.standard_normal((n, 2, 8, 16)).astype(np.float32)
    norm = {"variables": ["u", "v"], "mean": [0.0, 0.0], "std": [1.0, 1.0]}
    torch.manual_seed(0)
    net = train_residual_diffusion(
        coarse,
        fine,
        mean,
        residual_config(base=16, growth=8, mults=(1, 2), emb_dim=32),
        tmp_path / "res",
        LoopSettings(steps=150, batch_size=64, lr=5e-3, checkpoint_every=1000),
        norm=norm,
        grid=grid,
        num_train_steps=200,
        device=torch.device("cpu"),
    )
    torch.manual_seed(0)
    simvp = SimVP(SimVPConfig(frames=2, coarse_shape=(2, 4), hid_s=4, hid_t=8, n_t=1))
    with torch.no_grad():
        simvp.readout.weight.zero_()
        simvp.readout.bias.zero_()  # mean model = the interpolated coarse input = c, exactly
    res_std = FrameDiffusion.from_checkpoint(tmp_path / "res", "taudiff-residual")[1]["residual_std"]
    d = Downscaler(simvp, FrameDiffusion(net, CosineSchedule(200), res_std), norm, grid, device="cpu")
    lat, lon = grid["coarse_lat"], grid["coarse_lon"]
    for amp in (0.5, 2.0):
        field = np.full((4, len(lat), len(lon)), amp, np.float32)
        ds = xr.Dataset(
            {"u": (("time", "lat", "lon"), field), "v": (("time", "lat", "lon"), field)},
            coords={"time": np.arange(4), "lat": lat, "lon": lon},
        )
        for sampler in ("ddpm", "ddim"):
            out = d.downscale(ds, DownscaleRequest(n_samples=2, steps=20, seed=0, sampler=sampler))
            np.testing.assert_allclose(out["u_mean"].values, amp, rtol=1e-5)
            spread = float((out["u"] - out["u_mean"]).std())  # 2 samples x 4 frames x 128 points
            assert abs(spread / amp - 1) < 0.15, (amp, sampler, spread)


def test_resumed_stages_keep_the_saved_normalisation_up_to_rounding(tmp_path):
    """Regenerated data whose statistics differ in the 7th digit reuse the checkpoint's normalisation
    exactly (so a resumed residual matches its mean model); really different data does not."""
    import torch

    from climviz.nn.checkpoint import save_checkpoint
    from climviz.pipelines.downscale_training import _saved_normalization

    saved = {"variables": ["u", "v"], "mean": [5.3119290, -3.0112e-05], "std": [10.4416944, 5.4340341]}
    save_checkpoint(
        tmp_path / "mean", torch.nn.Linear(1, 1), {"kind": "taudiff-mean", "normalization": saved}
    )
    again = {"variables": ["u", "v"], "mean": [5.3119268, -3.0218e-05], "std": [10.4416949, 5.4340229]}
    other = {"variables": ["u", "v"], "mean": [5.4, 0.0], "std": [10.44, 5.43]}
    dirs = [tmp_path / "missing", tmp_path / "mean"]
    assert _saved_normalization(again, dirs) == saved
    assert _saved_normalization(other, dirs) == other
    assert _saved_normalization({**again, "variables": ["u", "w"]}, dirs)["variables"] == ["u", "w"]
