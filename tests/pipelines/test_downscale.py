"""Downscaler (TAUDiff) and BaselineDownscaler: xarray edges, windows, seeds, checkpoints, sampled spread,
and residual sampling in time order (``prev_residual``) next to the independent sampling of older models."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from climviz.data.grid import gaussian_latitudes, regular_longitudes
from climviz.diffusion.samplers import make_sampler, sample
from climviz.diffusion.schedule import CosineSchedule
from climviz.nn.cau_unet import CAUUNet, baseline_config, residual_config
from climviz.nn.simvp import SimVP, SimVPConfig
from climviz.nn.wind_fields import denormalize, normalize
from climviz.pipelines.downscale import (
    BaselineDownscaler,
    Downscaler,
    FrameDiffusion,
    load_downscaler,
    predict_mean,
    sample_seed,
    window_starts,
    window_weights,
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


def test_window_starts_cover_the_sequence():
    assert window_starts(6, 4) == [0, 2] and window_starts(8, 4) == [0, 4] and window_starts(4, 4) == [0]
    assert window_starts(8, 4, 2) == [0, 2, 4] and window_starts(7, 4, 2) == [0, 2, 3]


def test_window_weights_at_half_a_window_sum_to_one():
    for t in (2, 4, 8, 12):
        w = window_weights(t).numpy()
        h = t // 2
        np.testing.assert_allclose(w[:h] + w[h:], 1.0, atol=1e-12)  # sin^2 + cos^2
        assert w.argmax() in (h - 1, h) and w.min() > 0


def test_window_blending_matches_direct_calls():
    d = _downscaler()
    x = normalize(torch.randn(6, 2, 8, 16) * 8 + 3, NORM)
    m = predict_mean(d.mean_model, x, stride=2)  # T = 4: windows at 0 and 2
    with torch.no_grad():
        a, b = d.mean_model(x[None, 0:4])[0], d.mean_model(x[None, 2:6])[0]
    w = torch.tensor([np.sin(np.pi * (i + 0.5) / 4) ** 2 for i in range(4)], dtype=a.dtype).view(4, 1, 1, 1)
    blend = (w[2:] * a[2:] + w[:2] * b[:2]) / (w[2:] + w[:2])  # frames 2, 3: positions 2, 3 of a, 0, 1 of b
    assert torch.allclose(m[:2], a[:2], atol=1e-5)  # one window: its own frames
    assert torch.allclose(m[2:4], blend, atol=1e-5)
    assert torch.allclose(m[4:], b[2:], atol=1e-5)
    short = predict_mean(d.mean_model, x[:3])  # shorter than T: padded with the last frame
    with torch.no_grad():
        c = d.mean_model(torch.cat([x[:3], x[2:3]])[None])[0]
    assert short.shape[0] == 3 and torch.allclose(short, c[:3], atol=1e-6)
    every = predict_mean(d.mean_model, x)  # the default: a window at every frame, 0, 1, 2
    with torch.no_grad():
        wins = [d.mean_model(x[None, s : s + 4])[0] for s in range(3)]
    frame3 = sum(w[3 - s] * wins[s][3 - s] for s in range(3)) / sum(w[3 - s] for s in range(3))
    assert torch.allclose(every[3], frame3, atol=1e-5)


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
    # 3 mean windows of T = 4 (one at each of frames 0-2) + 2 samples x 2 frame batches x 3 steps
    assert seen[-1] == (15, 15) and [s[0] for s in seen] == list(range(1, 16))


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


# ---------------------------------------------------------------- independent vs in-time-order sampling
MODELS = Path(__file__).resolve().parents[2] / "models"


@torch.no_grad()
def _independent_reference(d, coarse, request):
    """Residual sampling as written before ``prev_residual`` existed, ``[S, N, C, H, W]``: sample ``k``
    has its own generator and walks the frames in chunks of ``batch_frames``, one sampler run each."""
    x = d._tensor(d.check_input(coarse))
    mean = predict_mean(d.mean_model, x)
    cond = torch.cat([mean, d.upsample(x)], dim=1)
    res, c = d.residual, d.residual.net.cfg.out_channels
    outs = []
    for k in range(request.n_samples):
        gen = torch.Generator().manual_seed(sample_seed(request.seed, k))
        chunks = []
        for i in range(0, cond.shape[0], request.batch_frames):
            cc = cond[i : i + request.batch_frames]
            chunks.append(
                sample(
                    lambda x, t, cc=cc: res.net(x, t, cc),
                    (cc.shape[0], c, *cc.shape[2:]),
                    make_sampler(request.sampler, res.schedule, request.steps),
                    generator=gen,
                )
            )
        outs.append(torch.cat(chunks) * res.scale)
    return (denormalize(mean, d.norm)[None] + torch.stack(outs)).numpy()


def _fields(ds):
    return np.stack([ds["u"].values, ds["v"].values], axis=2)  # [S, N, C, H, W]


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_a_model_without_prev_residual_samples_frames_as_before(sampler):
    d = _downscaler(seed=3)
    assert not d.residual.sequential
    request = DownscaleRequest(
        n_samples=2, steps=3, seed=11, sampler=sampler, batch_frames=4, noise_correlation=0.0
    )
    out = d.downscale(_coarse(6), request)
    np.testing.assert_array_equal(_fields(out), _independent_reference(d, _coarse(6), request))
    assert out.attrs["frame_sampling"] == "each frame independently"
    # the request's default burn-in is not done for a frame-independent model, and the file says so
    assert request.burn_in > 0 and out.attrs["burn_in"] == 0


@pytest.mark.skipif(not (MODELS / "taudiff" / "residual").is_dir(), reason="no shipped TAUDiff checkpoint")
def test_the_shipped_checkpoint_loads_as_it_was_trained():
    raw = json.loads((MODELS / "taudiff" / "residual" / "config.json").read_text())["unet"]
    d = Downscaler.from_checkpoint(MODELS / "taudiff", device="cpu")
    assert d.residual.net.cfg.cau == raw["cau"] == "tau"  # the CAU as TAU on one frame
    assert d.residual.sequential == raw["prev_residual"] is True  # frames in time order
    lat, lon = d.coarse_lat, d.coarse_lon
    rng = np.random.default_rng(1)
    coarse = xr.Dataset(
        {
            v: (("time", "lat", "lon"), rng.normal(0, 8, (3, lat.size, lon.size)).astype(np.float32))
            for v in "uv"
        },
        coords={"time": np.arange(3), "lat": lat, "lon": lon},
    )
    request = DownscaleRequest(n_samples=2, steps=2, seed=4, sampler="ddpm")
    a, b = d.downscale(coarse, request), d.downscale(coarse, request)
    np.testing.assert_array_equal(_fields(a), _fields(b))  # same seed, same computation
    assert np.isfinite(_fields(a)).all()


def _sequential_downscaler(seed=0):
    torch.manual_seed(seed)
    mean_model = SimVP(SimVPConfig(**SIMVP)).eval()
    net = CAUUNet(residual_config(**UNET, prev_residual=True)).eval()
    with torch.no_grad():
        net.out.weight.normal_(0, 0.2)  # zero at init; give it weights so samples depend on the noise
    return Downscaler(
        mean_model, FrameDiffusion(net, CosineSchedule(100), [1.5, 0.5]), NORM, GRID, device="cpu"
    )


def test_frames_are_sampled_in_time_order_each_given_the_previous_residual(monkeypatch):
    d = _sequential_downscaler()
    net = d.residual.net
    calls = []
    forward = net.forward

    def spy(x, t, cond, prev=None):
        calls.append((cond.clone(), prev.clone()))
        return forward(x, t, cond, prev)

    monkeypatch.setattr(net, "forward", spy)
    n, steps, coarse = 4, 3, _coarse(4)
    seen = []
    request = DownscaleRequest(n_samples=3, steps=steps, seed=5, sampler="ddpm", batch_frames=2, burn_in=0)
    out = d.downscale(coarse, request, progress=lambda done, total: seen.append((done, total)))
    assert len(calls) == n * 2 * steps  # 4 frames x 2 network batches of samples (2 + 1) x 3 steps
    assert seen[-1] == (1 + len(calls), 1 + len(calls))  # and one mean-model window
    assert out.attrs["frame_sampling"].startswith("in time order")
    with torch.no_grad():
        x = d._tensor(d.check_input(coarse))
        cond = torch.cat([predict_mean(d.mean_model, x), d.upsample(x)], dim=1)
    # the residual each sample drew for each frame, in the network's (normalised) units
    resid = (_fields(out) - np.stack([out["u_mean"].values, out["v_mean"].values], axis=1)[None]) / np.array(
        [1.5, 0.5]
    )[:, None, None]
    for i, (c, prev) in enumerate(calls):
        frame, rows = i // (2 * steps), (slice(0, 2), slice(2, 3))[(i // steps) % 2]
        assert torch.equal(c, cond[frame : frame + 1].expand_as(c))  # this frame's mean and coarse input
        if frame == 0:
            assert torch.count_nonzero(prev) == 0  # the first frame has no predecessor
        else:  # frame t + 1 sees what was sampled for frame t, for the same samples
            np.testing.assert_allclose(prev.numpy(), resid[rows, frame - 1], rtol=0, atol=1e-4)
    assert np.abs(resid[:, 1:]).max() > 0.1  # the conditions checked above are not all ~0


def test_sequential_samples_follow_the_seed_not_the_sample_count():
    d = _sequential_downscaler(seed=1)
    coarse = _coarse(3)
    a = d.downscale(coarse, DownscaleRequest(n_samples=2, steps=3, seed=7, sampler="ddpm"))
    b = d.downscale(coarse, DownscaleRequest(n_samples=2, steps=3, seed=7, sampler="ddpm"))
    one = d.downscale(coarse, DownscaleRequest(n_samples=1, steps=3, seed=7, sampler="ddpm"))
    np.testing.assert_array_equal(a["u"].values, b["u"].values)
    assert np.abs(a["u"][0].values - a["u"][1].values).max() > 1e-3
    # another batch size runs other BLAS/conv kernels: equal to float32 rounding, not bit for bit
    np.testing.assert_allclose(one["u"][0].values, a["u"][0].values, rtol=0, atol=1e-3)


def test_training_with_prev_residual_feeds_the_true_residual_of_the_step_before(tmp_path, monkeypatch):
    """Step ``n`` has mean ``n`` and residual ``n + 1`` everywhere, so every training call shows which
    step it is (mean channel of ``cond``) and which residual it was given (``prev``)."""
    grid = _grid(2, 4)  # fine 8 x 16
    n = 12
    s = np.arange(n, dtype=np.float32)[:, None, None, None]
    mean = np.broadcast_to(s, (n, 2, 8, 16)).copy()
    fine = mean + (s + 1)
    coarse = np.random.default_rng(0).normal(0, 1, (n, 2, 2, 4)).astype(np.float32)
    norm = {"variables": ["u", "v"], "mean": [0.0, 0.0], "std": [1.0, 1.0]}
    kw = dict(norm=norm, grid=grid, device=torch.device("cpu"))
    settings = LoopSettings(steps=20, batch_size=8, lr=1e-3, checkpoint_every=100)
    train_mean_model(
        coarse,
        fine,
        SimVPConfig(frames=2, coarse_shape=(2, 4), hid_s=4, hid_t=8, n_t=1),
        tmp_path / "td" / "mean",
        LoopSettings(steps=1, batch_size=2),
        **kw,
    )
    seen = []
    forward = CAUUNet.forward

    def spy(self, x, t, cond, prev=None):
        seen.append((cond[:, 0, 0, 0].round().long(), prev.detach().clone()))
        return forward(self, x, t, cond, prev)

    monkeypatch.setattr(CAUUNet, "forward", spy)
    cfg = residual_config(**UNET, prev_residual=True, cau="tau")
    net = train_residual_diffusion(
        coarse,
        fine,
        mean,
        cfg,
        tmp_path / "td" / "residual",
        settings,
        num_train_steps=100,
        prev_residual_drop=0.5,
        **kw,
    )
    monkeypatch.undo()
    rs = np.sqrt(np.mean((s.ravel() + 1) ** 2))  # residual std (constant fields: no area weighting)
    dropped = given = 0
    for steps_seen, prev in seen:
        for k, step in enumerate(steps_seen.tolist()):
            if step == 0 or torch.count_nonzero(prev[k]) == 0:  # no predecessor, or dropped
                assert torch.count_nonzero(prev[k]) == 0
                dropped += step > 0
            else:  # the residual of step - 1, which is `step`, normalised
                torch.testing.assert_close(prev[k], torch.full_like(prev[k], step / rs), rtol=1e-5, atol=1e-6)
                given += 1
    assert dropped + given > 140 and 0.3 < dropped / (dropped + given) < 0.7  # prev_residual_drop = 0.5

    saved = json.loads((tmp_path / "td" / "residual" / "config.json").read_text())
    assert saved["prev_residual_drop"] == 0.5 and saved["unet"]["prev_residual"] is True
    assert saved["unet"]["cau"] == "tau" and saved["trained_steps"] == 20
    d = load_downscaler(tmp_path / "td", device="cpu")
    assert d.residual.sequential and d.residual.net.cfg == cfg
    for name, p in net.state_dict().items():
        assert torch.equal(d.residual.net.state_dict()[name], p)
    lat, lon = grid["coarse_lat"], grid["coarse_lon"]
    ds = xr.Dataset(
        {v: (("time", "lat", "lon"), np.ones((3, len(lat), len(lon)), np.float32)) for v in "uv"},
        coords={"time": np.arange(3), "lat": lat, "lon": lon},
    )
    out = d.downscale(ds, DownscaleRequest(n_samples=2, steps=3, seed=0))
    assert out["u"].shape == (2, 3, 8, 16) and np.isfinite(out["u"]).all()
    with pytest.raises(ValueError, match="prev_residual"):
        train_baseline(
            coarse, fine, baseline_config(**UNET, prev_residual=True), tmp_path / "b", settings, **kw
        )


def test_prev_residual_validation_feeds_the_true_previous_residual_and_the_checkpoint_samples_in_order(
    tmp_path, monkeypatch
):
    """Early stopping with ``prev_residual``: every validation frame gets the true residual of the
    validation step before (zeros for the period's first step), none dropped, whatever the training
    drop rate; the validation curve is recorded and the best weights load and sample in time order.
    As above, step ``n`` has mean ``n`` and residual ``n + 1``; the validation steps are 50 .. 54."""
    grid = _grid(2, 4)  # fine 8 x 16
    s = np.arange(12, dtype=np.float32)[:, None, None, None]
    sv = 50 + np.arange(5, dtype=np.float32)[:, None, None, None]
    mean, mean_val = (np.broadcast_to(a, (len(a), 2, 8, 16)).copy() for a in (s, sv))
    fine, fine_val = mean + (s + 1), mean_val + (sv + 1)
    rng = np.random.default_rng(0)
    coarse, coarse_val = (rng.normal(0, 1, (len(a), 2, 2, 4)).astype(np.float32) for a in (s, sv))
    norm = {"variables": ["u", "v"], "mean": [0.0, 0.0], "std": [1.0, 1.0]}
    kw = dict(norm=norm, grid=grid, device=torch.device("cpu"))
    train_mean_model(
        coarse,
        fine,
        SimVPConfig(frames=2, coarse_shape=(2, 4), hid_s=4, hid_t=8, n_t=1),
        tmp_path / "td" / "mean",
        LoopSettings(steps=1, batch_size=2),
        **kw,
    )
    seen = []
    forward = CAUUNet.forward

    def spy(self, x, t, cond, prev=None):
        if not self.training:  # a validation loss (run_loop evaluates in eval mode)
            seen.append((cond[:, 0, 0, 0].round().long(), prev.detach().clone()))
        return forward(self, x, t, cond, prev)

    monkeypatch.setattr(CAUUNet, "forward", spy)
    settings = LoopSettings(steps=4, batch_size=4, lr=1e-3, checkpoint_every=100, eval_every=2)
    cfg = residual_config(**UNET, prev_residual=True)
    net = train_residual_diffusion(
        coarse,
        fine,
        mean,
        cfg,
        tmp_path / "td" / "residual",
        settings,
        num_train_steps=100,
        prev_residual_drop=1.0,  # training never sees a previous residual; validation always does
        val=(coarse_val, fine_val, mean_val),
        **kw,
    )
    monkeypatch.undo()
    rs = np.sqrt(np.mean((s.ravel() + 1) ** 2))  # the training period's residual std
    steps_seen = torch.cat([st for st, _ in seen])
    assert steps_seen.tolist() == list(range(50, 55)) * 2  # 5 validation frames, 2 evaluations
    prev = torch.cat([p for _, p in seen])
    for step, p in zip(steps_seen.tolist(), prev):
        want = 0.0 if step == 50 else step / rs  # the residual of step - 1, i.e. `step`, normalised
        torch.testing.assert_close(p, torch.full_like(p, want), rtol=1e-5, atol=1e-6)

    saved = json.loads((tmp_path / "td" / "residual" / "config.json").read_text())
    val = saved["validation"]
    assert [h[0] for h in val["history"]] == [2, 4] and all(np.isfinite(h[1]) for h in val["history"])
    assert saved["trained_steps"] == val["best_step"] and saved["prev_residual_drop"] == 1.0
    d = load_downscaler(tmp_path / "td", device="cpu")
    assert d.residual.sequential and d.residual.net.cfg == cfg
    for name, p in net.state_dict().items():  # the best weights, returned and saved
        assert torch.equal(d.residual.net.state_dict()[name], p)
    lat, lon = grid["coarse_lat"], grid["coarse_lon"]
    ds = xr.Dataset(
        {v: (("time", "lat", "lon"), np.ones((3, len(lat), len(lon)), np.float32)) for v in "uv"},
        coords={"time": np.arange(3), "lat": lat, "lon": lon},
    )
    out = d.downscale(ds, DownscaleRequest(n_samples=2, steps=3, seed=0, burn_in=2))
    assert out["u"].shape == (2, 3, 8, 16) and np.isfinite(out["u"]).all()
    assert out.attrs["frame_sampling"].startswith("in time order") and out.attrs["burn_in"] == 2


# ---------------------------------------------------------------- initial noise correlated in time
def _initial_noise(d, monkeypatch, request, n_frames):
    """The noise each sampler run started from, ``[S, N, C, H, W]``: the network's input at its first
    step (``t = T - 1``) for each frame, spied on the forward pass."""
    net, first = d.residual.net, []
    forward = net.forward

    def spy(x, t, cond, prev=None):
        if int(t[0]) == d.residual.schedule.num_train_steps - 1:
            first.append(x.clone())
        return forward(x, t, cond, prev)

    monkeypatch.setattr(net, "forward", spy)
    d.downscale(_coarse(n_frames), request)
    monkeypatch.undo()
    per_call = torch.stack(first)  # [N * batches, b, C, H, W] in call order
    if d.residual.sequential:  # frame by frame, the samples side by side in one batch
        return per_call.transpose(0, 1).numpy()
    return per_call.reshape(request.n_samples, n_frames, *per_call.shape[2:]).numpy()  # batch_frames >= N


@pytest.mark.parametrize("sequential", [True, False])
def test_initial_noise_is_ar1_in_time_and_rho_zero_is_the_independent_draw(monkeypatch, sequential):
    d = _sequential_downscaler(seed=2) if sequential else _downscaler(seed=2)
    kw = dict(n_samples=2, steps=2, seed=9, sampler="ddim", batch_frames=16, burn_in=0)
    n, rho = 6, 0.7
    eps = _initial_noise(d, monkeypatch, DownscaleRequest(**kw, noise_correlation=0.0), n)
    z = _initial_noise(d, monkeypatch, DownscaleRequest(**kw, noise_correlation=rho), n)
    # rho = 0 is the independent draw: sample k's noise, frame by frame, from its own generator
    for k in range(2):
        gen = torch.Generator().manual_seed(sample_seed(9, k))
        if sequential:  # one draw per frame
            ref = np.stack([torch.randn(eps.shape[2:], generator=gen).numpy() for _ in range(n)])
        else:  # one draw for the whole chunk of frames
            ref = torch.randn(eps.shape[1:], generator=gen).numpy()
        np.testing.assert_array_equal(eps[k], ref)
    # rho > 0 filters the same draws: z_0 = eps_0, z_n = rho z_(n-1) + sqrt(1 - rho^2) eps_n
    np.testing.assert_array_equal(z[:, 0], eps[:, 0])
    innovation = (z[:, 1:] - rho * z[:, :-1]) / np.sqrt(1 - rho**2)
    np.testing.assert_allclose(innovation, eps[:, 1:], rtol=0, atol=1e-5)
    lag1 = np.mean(z[:, 1:] * z[:, :-1]) / np.mean(z * z)
    assert abs(lag1 - rho) < 0.1, lag1  # 2 samples x 5 pairs x 2 x 16 x 32 values


def test_correlated_noise_changes_the_samples_and_is_recorded():
    d = _sequential_downscaler(seed=4)
    kw = dict(n_samples=1, steps=2, seed=3, sampler="ddim", burn_in=0)
    a = d.downscale(_coarse(4), DownscaleRequest(**kw, noise_correlation=0.0))
    b = d.downscale(_coarse(4), DownscaleRequest(**kw, noise_correlation=0.9))
    np.testing.assert_array_equal(a["u"][:, 0].values, b["u"][:, 0].values)  # the first frame: same noise
    assert np.abs(a["u"][:, 1:].values - b["u"][:, 1:].values).max() > 1e-3
    assert (a.attrs["noise_correlation"], b.attrs["noise_correlation"]) == (0.0, 0.9)


@pytest.mark.parametrize("rho", [-0.1, 1.0, 1.5, True, "0.5"])
def test_noise_correlation_outside_0_1_is_refused(rho):
    with pytest.raises(ValueError, match="noise_correlation"):
        DownscaleRequest(noise_correlation=rho)


def test_burn_in_is_k_discarded_draws_of_the_first_frame():
    """``burn_in = K`` returns what sampling the sequence with frame 0 repeated K more times at its
    start would give from frame K on: same noise stream, same computation, so exactly equal."""
    d = _sequential_downscaler(seed=6)
    res = d.residual
    g = torch.Generator().manual_seed(0)
    cond = torch.randn(3, res.net.cfg.cond_channels, 16, 32, generator=g)
    k, kw = 2, dict(steps=2, sampler="ddim", noise_correlation=0.5)

    def gens():
        return [torch.Generator().manual_seed(s) for s in (1, 2)]

    ticks = []
    burnt = res.sample_sequence(cond, generators=gens(), burn_in=k, progress=lambda: ticks.append(1), **kw)
    repeated = res.sample_sequence(torch.cat([cond[:1].expand(k, -1, -1, -1), cond]), generators=gens(), **kw)
    torch.testing.assert_close(burnt, repeated[:, k:], rtol=0, atol=0)
    assert len(ticks) == res.evaluations(3, 2, 2, 16, burn_in=k) == (3 + k) * 2
    plain = res.sample_sequence(cond, generators=gens(), **kw)
    assert (burnt[:, 0] - plain[:, 0]).abs().max() > 1e-3  # frame 0 now has a predecessor
