"""The residual base: a same-calendar-month mean that keeps seasons and trends and averages noise down."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from climviz.diffusion.residual_base import base_config, residual_base, same_month_mean


def test_zero_years_and_the_paper_config_return_the_run_itself():
    z = torch.randn(30, 2, 3)
    assert same_month_mean(z, 0) is z
    assert residual_base(z, None) is z
    assert residual_base(z, base_config(0)) is z
    with pytest.raises(ValueError, match="kind"):
        residual_base(z, {"kind": "running mean"})
    with pytest.raises(ValueError, match="integer >= 1"):
        residual_base(z, {"kind": "same-month mean", "years": 1.5})
    with pytest.raises(ValueError, match=">= 0"):
        base_config(-1)


def test_a_seasonal_cycle_plus_a_trend_is_kept_inside_the_record():
    t = np.arange(120, dtype=np.float64)
    x = np.sin(2 * np.pi * t / 12) + 3 * np.cos(2 * np.pi * t / 6) + 0.01 * t
    out = same_month_mean(torch.from_numpy(x), 2).numpy()
    # a symmetric mean of a linear function over t-24, t-12, ..., t+24 is the function at t
    np.testing.assert_allclose(out[24:-24], x[24:-24], atol=1e-12)
    # at the ends fewer years: month 0 averages t = 0, 12, 24, so the trend term is 0.01 * 12
    assert out[0] == pytest.approx(x[0] + 0.01 * 12, abs=1e-12)


def test_the_ends_average_the_years_there_are():
    z = torch.arange(36, dtype=torch.float64)  # three years
    out = same_month_mean(z, 1)
    np.testing.assert_allclose(out[:12].numpy(), (np.arange(12) + np.arange(12, 24)) / 2)
    np.testing.assert_allclose(out[12:24].numpy(), np.arange(12, 24), atol=1e-12)  # (t-12 + t + t+12)/3
    np.testing.assert_allclose(out[24:].numpy(), (np.arange(12, 24) + np.arange(24, 36)) / 2)


def test_white_noise_variance_drops_by_the_number_of_years_averaged():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 48, generator=g, dtype=torch.float64)
    inner = same_month_mean(z, 1, dim=1)[:, 12:36]
    assert inner.var().item() == pytest.approx(1 / 3, rel=0.02)
    # month-to-month changes of the base are averaged down the same way
    assert inner.diff(dim=1).var().item() == pytest.approx(2 / 3, rel=0.02)


def test_any_time_dimension_gives_the_same_as_one_series_at_a_time():
    z = torch.randn(3, 40, 2, 5)
    out = same_month_mean(z, 2, dim=1)
    for m in range(3):
        assert torch.equal(out[m], same_month_mean(z[m], 2, dim=0))
    assert torch.equal(same_month_mean(z.transpose(0, 1), 2, dim=0).transpose(0, 1), out)


def test_the_residual_scale_is_measured_from_the_base():
    """Members = a shared signal + independent noise of std 0.5: residuals from another member
    have std 0.5 sqrt(2); from a base that is the shared signal itself, 0.5."""
    from climviz.train.ldm import latent_statistics

    rng = np.random.default_rng(0)
    shared = rng.normal(size=(1, 200, 2, 3, 4))
    latents = (shared + 0.5 * rng.normal(size=(6, 200, 2, 3, 4))).astype(np.float32)
    paper = latent_statistics(latents, pairs=4000)
    based = latent_statistics(latents, pairs=4000, base=np.broadcast_to(shared, latents.shape))
    np.testing.assert_allclose(paper["res_std"], 0.5 * np.sqrt(2), rtol=0.05)
    np.testing.assert_allclose(based["res_std"], 0.5, rtol=0.05)
