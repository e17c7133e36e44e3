"""EnsembleGenerator with tiny models trained through the CLI."""

import numpy as np
import pytest
import torch

from climviz.cli import main
from climviz.data.loader import open_ensemble, open_run
from climviz.nn.checkpoint import CheckpointError
from climviz.pipelines.ensemble import EnsembleGenerator, member_generators, member_seed
from climviz.requests import GenerationRequest


@pytest.fixture(scope="module")
def generator(tiny_generator_dir):
    return EnsembleGenerator.from_checkpoint(tiny_generator_dir, device="cpu")


@pytest.fixture(scope="module")
def cond(tiny_ensemble_file):
    return open_run(tiny_ensemble_file, member=3).load()


@pytest.mark.parametrize("mode", ["transformer", "autoregressive"])
def test_generate_shape_units_provenance(generator, cond, mode):
    out = generator.generate(cond, GenerationRequest(n_members=3, steps=3, mode=mode, seed=1))
    assert out.dims == ("member", "time", "lat", "lon")
    assert out.shape == (3,) + cond.shape
    assert out.attrs["units"] == "K" and out.attrs["mode"] == mode and out.attrs["seed"] == 1
    assert np.isfinite(out.values).all()
    # the long span (48 months) is longer than the window (12): several windows/chunks were used
    assert cond.sizes["time"] > generator.diffusion[mode].window
    # values stay physical (the normaliser maps back to K)
    assert 180 < float(out.min()) and float(out.max()) < 330
    np.testing.assert_array_equal(out["time"].values, cond["time"].values)


@pytest.mark.parametrize("sampler", ["ddim", "ddpm", "dpm++2m"])
def test_same_seed_same_ensemble_and_seeds_differ(generator, cond, sampler):
    a = generator.generate(cond, GenerationRequest(n_members=2, steps=3, seed=5, sampler=sampler))
    b = generator.generate(cond, GenerationRequest(n_members=2, steps=3, seed=5, sampler=sampler))
    c = generator.generate(cond, GenerationRequest(n_members=2, steps=3, seed=6, sampler=sampler))
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_progress_counts_every_network_evaluation(generator, cond):
    calls = []
    generator.generate(
        cond,
        GenerationRequest(n_members=1, steps=4, mode="autoregressive"),
        progress=lambda d, t: calls.append((d, t)),
    )
    total = calls[-1][1]
    assert [d for d, _ in calls] == list(range(1, total + 1))
    assert total % 4 == 0 and total >= 8  # 4 steps x at least 2 chunks for 48 months / window 12


def test_bad_conditioning_is_refused_clearly(generator, cond):
    with pytest.raises(ValueError, match="grid"):
        generator.generate(cond.isel(lat=slice(0, 8)), GenerationRequest(n_members=1, steps=1))
    bad = cond.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        generator.generate(bad, GenerationRequest(n_members=1, steps=1))
    with pytest.raises(ValueError, match="mode"):
        generator.generate(cond, GenerationRequest(n_members=1, steps=1, mode="diagonal"))
    with pytest.raises(ValueError, match="steps must be at least 1, got 0"):
        GenerationRequest(n_members=1, steps=0)
    with pytest.raises(ValueError, match="between 1 and"):
        generator.generate(cond, GenerationRequest(n_members=1, steps=10**6))


def test_cli_generate_writes_a_cf_file(tiny_generator_dir, tiny_ensemble_file, tmp_path):
    out = tmp_path / "gen.nc"
    rc = main(
        [
            "generate",
            "--model-dir",
            str(tiny_generator_dir),
            "--cond",
            str(tiny_ensemble_file),
            "--member",
            "3",
            "--members",
            "2",
            "--steps",
            "2",
            "--start",
            "1991-01",
            "--end",
            "1991-12",
            "-o",
            str(out),
        ]
    )
    assert rc == 0
    ens = open_ensemble(out)
    assert ens.shape == (2, 12, 16, 32)
    assert ens.attrs["steps"] == 2 and "member 3" in ens.attrs["conditioning_source"]


def test_checkpoint_with_a_pickle_is_refused(tiny_generator_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_generator_dir, bad)
    (bad / "vae" / "extra.pt").write_bytes(b"not really a pickle")
    with pytest.raises(CheckpointError, match="pickle"):
        EnsembleGenerator.from_checkpoint(bad)


def test_period_outside_training_is_generated_and_year_blind(generator, cond):
    """The space-time denoiser reads no calendar year: 30 years later, the same run gives the same members."""
    import cftime

    later = [cftime.DatetimeProlepticGregorian(t.year + 30, t.month, 15) for t in cond["time"].values]
    for mode in ("transformer", "autoregressive"):
        now = generator.generate(cond, GenerationRequest(n_members=2, steps=2, seed=3, mode=mode))
        shifted = generator.generate(
            cond.assign_coords(time=later), GenerationRequest(n_members=2, steps=2, seed=3, mode=mode)
        )
        np.testing.assert_array_equal(shifted.values, now.values)  # the same computation, bit for bit
        assert int(shifted.time.dt.year[0]) == int(now.time.dt.year[0]) + 30


def test_calendar_year_architecture_still_refuses_other_periods(
    tiny_generator_dir, tiny_ensemble_file, cond, tmp_path
):
    import shutil

    import cftime

    shutil.copytree(tiny_generator_dir / "vae", tmp_path / "vae")
    assert (
        main(
            [
                "train",
                "ldm",
                "--data",
                str(tiny_ensemble_file),
                "--model-dir",
                str(tmp_path),
                "--members",
                "0-2",
                "--steps",
                "1",
                "--batch-size",
                "2",
                "--mode",
                "transformer",
                "--architecture",
                "temporal",
                "--d-model",
                "16",
                "--layers",
                "1",
                "--heads",
                "2",
                "--window",
                "12",
            ]
        )
        == 0
    )
    old = EnsembleGenerator.from_checkpoint(tmp_path, device="cpu")
    later = [cftime.DatetimeProlepticGregorian(t.year + 30, t.month, 15) for t in cond["time"].values]
    with pytest.raises(ValueError, match="trained on 1990-1994"):
        old.generate(cond.assign_coords(time=later), GenerationRequest(n_members=1, steps=1))


def test_preview_shows_each_step_of_member_zero(generator, cond):
    seen = []
    out = generator.generate(
        cond,
        GenerationRequest(n_members=2, steps=3, seed=2, mode="transformer"),
        preview_frame=5,
        preview=lambda i, n, field: seen.append((i, n, field)),
    )
    assert [(i, n) for i, n, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    # the last preview is the final prediction of member 0 at that month (decoded, in K)
    np.testing.assert_allclose(seen[-1][2], out.isel(member=0, time=5).values, atol=1e-3)


@pytest.mark.parametrize(("mode", "sampler"), [("transformer", "ddim"), ("autoregressive", "ddpm")])
def test_a_member_depends_only_on_seed_and_index(generator, cond, mode, sampler):
    """Members 3..5 generated alone (as one worker would) are members 3..5 of the 6-member run."""
    full = generator.generate(
        cond, GenerationRequest(n_members=6, steps=3, mode=mode, seed=7, sampler=sampler)
    )
    part = generator.generate(
        cond, GenerationRequest(n_members=3, steps=3, mode=mode, seed=7, sampler=sampler, member_offset=3)
    )
    np.testing.assert_array_equal(part["member"].values, [3, 4, 5])
    # batched CPU matmuls may differ in the last bits between batch sizes; one float32 ulp at
    # 256-512 K is 3.05e-5 K, so allow ~3 ulps (a different member differs by whole kelvins)
    np.testing.assert_allclose(
        part.values, full.isel(member=slice(3, 6)).values, rtol=0, atol=1e-3
    )  # K, float32 rounding
    # and the members are not copies of one another
    assert not np.allclose(full.isel(member=3).values, full.isel(member=4).values, atol=1e-3)


def test_member_seeds_are_distinct_and_reproducible():
    seeds = {member_seed(s, k) for s in range(4) for k in range(50)}
    assert len(seeds) == 200
    assert member_seed(3, 7) == member_seed(3, 7)
    a, b = (torch.randn(4, generator=g) for g in member_generators(0, [1, 1]))
    torch.testing.assert_close(a, b)


def test_cli_generate_is_the_request_it_builds(tiny_generator_dir, tiny_ensemble_file, tmp_path):
    """`climviz generate --members 2 --steps 2 --mode autoregressive --seed 9 --sampler ddpm` writes
    what ``generate(cond, GenerationRequest(2, 2, "autoregressive", 9, "ddpm"))`` returns."""
    out = tmp_path / "gen.nc"
    args = ["--members", "2", "--steps", "2", "--mode", "autoregressive", "--seed", "9", "--sampler", "ddpm"]
    common = ["--model-dir", str(tiny_generator_dir), "--cond", str(tiny_ensemble_file), "--member", "3"]
    assert (
        main(
            [
                "generate",
                *common,
                *args,
                "--start",
                "1991-01",
                "--end",
                "1991-12",
                "--device",
                "cpu",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    cond = open_run(tiny_ensemble_file, member=3).sel(time=slice("1991-01", "1991-12")).load()
    gen = EnsembleGenerator.from_checkpoint(tiny_generator_dir, device="cpu")
    ref = gen.generate(cond, GenerationRequest(2, 2, "autoregressive", 9, "ddpm"))
    written = open_ensemble(out)
    np.testing.assert_array_equal(written.values, ref.values)
    assert written.attrs["sampler"] == "ddpm" and written.attrs["seed"] == 9


def test_a_conditioning_run_with_numpy_datetimes_gives_the_same_members(generator, cond):
    """xarray decodes a standard calendar to datetime64 unless told otherwise: such a run is
    the same run as its cftime copy, and generates the same members (same computation)."""
    import pandas as pd

    stamps = pd.to_datetime([f"{t.year:04d}-{t.month:02d}-{t.day:02d}" for t in cond["time"].values])
    as_numpy = cond.assign_coords(time=stamps.values)
    assert np.issubdtype(as_numpy["time"].dtype, np.datetime64)
    request = GenerationRequest(n_members=2, steps=2, seed=3)
    np.testing.assert_array_equal(
        generator.generate(as_numpy, request).values, generator.generate(cond, request).values
    )
