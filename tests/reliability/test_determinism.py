"""Same seed, same ensemble (bit for bit on the CPU); another seed, another ensemble.

Through the public API only: ``EnsembleGenerator.generate`` (the tiny trained
generator, both sequence modes and a deterministic and an ancestral sampler;
the shipped ``models/ensemble`` on a 2-member x 12-month x 2-step request) and
``Downscaler.downscale`` with tiny injected networks. Each generator is loaded
twice from its checkpoint, so the second run shares no state with the first.
"""

from __future__ import annotations

from pathlib import Path

import cftime
import numpy as np
import pytest
import torch
import xarray as xr

from climviz.pipelines.ensemble import EnsembleGenerator
from climviz.requests import DownscaleRequest, GenerationRequest

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "ensemble"


def _cond_for(gen: EnsembleGenerator, year: int, months: int = 12, seed: int = 0) -> xr.DataArray:
    """A plausible run on ``gen``'s grid: its own monthly climatology plus 1 K of noise."""
    rng = np.random.default_rng(seed)
    clim = gen.normalizer.mean
    idx = np.arange(months) % 12
    time = [cftime.DatetimeProlepticGregorian(year + m // 12, m % 12 + 1, 15) for m in range(months)]
    values = clim[idx] + rng.normal(0, 1, (months, *clim.shape[1:])).astype(np.float32)
    return xr.DataArray(
        values,
        dims=("time", "lat", "lon"),
        name="tas",
        attrs={"units": "K"},
        coords={"time": time, "lat": gen.lat, "lon": gen.lon},
    )


def _assert_seeded(load, cond, **request):
    a = load().generate(cond, GenerationRequest(seed=11, **request))
    b = load().generate(cond, GenerationRequest(seed=11, **request))
    c = load().generate(cond, GenerationRequest(seed=12, **request))
    assert np.isfinite(a.values).all()
    assert np.array_equal(a.values, b.values), "same seed, different ensembles"
    assert not np.array_equal(a.values, c.values), "different seeds, same ensemble"
    # the members themselves differ from each other (the noise is not shared)
    assert not np.array_equal(a.values[0], a.values[1])
    return a


@pytest.mark.parametrize(
    "mode, sampler", [("transformer", "ddim"), ("transformer", "ddpm"), ("autoregressive", "dpm++2m")]
)
def test_tiny_generator_is_deterministic(mode, sampler, tiny_model_dir):
    def load():
        return EnsembleGenerator.from_checkpoint(tiny_model_dir, device="cpu")

    cond = _cond_for(load(), 1990, months=24)
    out = _assert_seeded(load, cond, n_members=3, steps=3, mode=mode, sampler=sampler)
    assert out.shape == (3, 24, 8, 16) and out.attrs["seed"] == 11


@pytest.mark.parametrize(
    "request_",
    [
        GenerationRequest(3, 3, "transformer", 11, "ddpm"),
        GenerationRequest(2, 2, "autoregressive", -4, "dpm++2m", 5),
    ],
)
@pytest.mark.parametrize("based", [False, True])
def test_a_request_gives_what_its_fields_give_the_sampler(request_, based, request):
    """``generate(cond, request)`` is, bit for bit, the composition the keyword call made: encode,
    one generator per member ``(seed, k)``, ``sample_residual(steps=, sampler=)``, add the residual
    to its base, decode. The base is the conditioning run itself, or (``--base-years 1``, a
    24-month run) each calendar month's mean over the two years, for both years."""
    from climviz.data.grid import decimal_years
    from climviz.pipelines.ensemble import member_generators

    directory = request.getfixturevalue("tiny_based_model_dir" if based else "tiny_model_dir")
    gen = EnsembleGenerator.from_checkpoint(directory, device="cpu")
    cond = _cond_for(gen, 1990, months=24)
    got = gen.generate(cond, request_)

    r = request_
    months = np.array([t.month for t in cond["time"].values])
    z_c = gen.encode(gen.normalizer.normalize(cond.values.astype(np.float32), months))
    members = range(r.member_offset, r.member_offset + r.n_members)
    z_y = gen.diffusion[r.mode].sample_residual(
        z_c,
        months - 1,
        decimal_years(cond["time"].values),
        r.n_members,
        steps=r.steps,
        sampler=r.sampler,
        generator=member_generators(r.seed, members),
    )
    base = torch.cat([(z_c[:12] + z_c[12:]) / 2] * 2) if based else z_c
    assert based == (not torch.equal(base, z_c))
    expected = gen.decode_fields(base[None] + z_y, months)
    assert np.array_equal(got.values, expected)
    assert list(got["member"].values) == list(members)
    assert (got.attrs["mode"], got.attrs["sampler"], got.attrs["steps"], got.attrs["seed"]) == (
        r.mode,
        r.sampler,
        r.steps,
        r.seed,
    )


@pytest.mark.skipif(
    not (SHIPPED / "vae" / "model.safetensors").exists(), reason="models/ensemble is not shipped here"
)
def test_shipped_generator_is_deterministic():
    gen = EnsembleGenerator.from_checkpoint(SHIPPED, device="cpu")
    cond = _cond_for(gen, 1990, months=12)
    for mode in gen.modes:
        out = _assert_seeded(lambda: gen, cond, n_members=2, steps=2, mode=mode)
        assert out.shape == (2, 12, len(gen.lat), len(gen.lon))


def test_downscaler_is_deterministic():
    from climviz.data.grid import gaussian_latitudes, regular_longitudes
    from climviz.diffusion.schedule import CosineSchedule
    from climviz.nn.cau_unet import CAUUNet, residual_config
    from climviz.nn.simvp import SimVP, SimVPConfig
    from climviz.pipelines.downscale import Downscaler, FrameDiffusion
    from climviz.train.taudiff import grid_dict

    grid = grid_dict(
        gaussian_latitudes(8), regular_longitudes(16), gaussian_latitudes(32), regular_longitudes(64)
    )
    norm = {"variables": ["u", "v"], "mean": [5.0, 0.0], "std": [10.0, 8.0]}

    def load():  # the same weights each time, built afresh
        torch.manual_seed(0)
        mean = SimVP(SimVPConfig(frames=4, coarse_shape=(8, 16), hid_s=8, hid_t=16, n_t=1)).eval()
        net = CAUUNet(residual_config(base=8, growth=4, mults=(1, 2), emb_dim=16)).eval()
        with torch.no_grad():
            net.out.weight.normal_(0, 0.2)  # zero at init: give the samples something to depend on
        return Downscaler(
            mean, FrameDiffusion(net, CosineSchedule(100), [1.0, 1.0]), norm, grid, device="cpu"
        )

    rng = np.random.default_rng(0)
    time = xr.date_range("2000-01-01", periods=5, freq="6h", calendar="proleptic_gregorian", use_cftime=True)
    coarse = xr.Dataset(
        {v: (("time", "lat", "lon"), rng.normal(0, 5, (5, 8, 16)).astype(np.float32)) for v in ("u", "v")},
        coords={"time": time, "lat": grid["coarse_lat"], "lon": grid["coarse_lon"]},
    )
    for sampler in ("ddim", "ddpm"):
        a = load().downscale(coarse, DownscaleRequest(n_samples=2, steps=3, seed=5, sampler=sampler))
        b = load().downscale(coarse, DownscaleRequest(n_samples=2, steps=3, seed=5, sampler=sampler))
        c = load().downscale(coarse, DownscaleRequest(n_samples=2, steps=3, seed=6, sampler=sampler))
        for v in ("u", "v"):
            assert np.array_equal(a[v].values, b[v].values)
            assert not np.array_equal(a[v].values, c[v].values)
            assert not np.array_equal(a[v].values[0], a[v].values[1])
        np.testing.assert_array_equal(a["u_mean"].values, c["u_mean"].values)  # the mean model has no noise


SHIPPED_TAUDIFF = SHIPPED.parent / "taudiff"


@pytest.mark.skipif(
    not (SHIPPED_TAUDIFF / "residual" / "model.safetensors").exists(),
    reason="models/taudiff is not shipped here",
)
def test_shipped_downscaler_is_deterministic():
    from climviz.pipelines.downscale import load_downscaler

    d = load_downscaler(SHIPPED_TAUDIFF, device="cpu")
    rng = np.random.default_rng(1)
    time = xr.date_range("2000-01-01", periods=2, freq="6h", calendar="proleptic_gregorian", use_cftime=True)
    shape = (2, d.coarse_lat.size, d.coarse_lon.size)
    coarse = xr.Dataset(
        {v: (("time", "lat", "lon"), rng.normal(0, 5, shape).astype(np.float32)) for v in d.variables},
        coords={"time": time, "lat": d.coarse_lat, "lon": d.coarse_lon},
    )
    a, b, c = (d.downscale(coarse, DownscaleRequest(n_samples=2, steps=2, seed=s)) for s in (5, 5, 6))
    for v in d.variables:
        assert np.array_equal(a[v].values, b[v].values) and not np.array_equal(a[v].values, c[v].values)
