"""The pipelines' classes are what climviz.contracts says the app relies on."""

import pytest

from climviz.contracts import DownscaleModel, EnsembleModel, Sampler, SamplerStep
from climviz.diffusion.samplers import SAMPLERS, make_sampler
from climviz.diffusion.schedule import CosineSchedule
from climviz.pipelines.downscale import BaselineDownscaler, Downscaler, load_downscaler
from climviz.pipelines.ensemble import EnsembleGenerator


def test_generator_is_an_ensemble_model(tiny_generator_dir):
    gen = EnsembleGenerator.from_checkpoint(tiny_generator_dir, device="cpu")
    assert isinstance(gen, EnsembleModel) and not isinstance(gen, DownscaleModel)


def test_both_downscalers_are_downscale_models(tiny_downscaler_dir):
    taudiff = load_downscaler(tiny_downscaler_dir, device="cpu")
    baseline = load_downscaler(tiny_downscaler_dir.with_name("taudiff-baseline"), device="cpu")
    assert isinstance(taudiff, Downscaler) and isinstance(baseline, BaselineDownscaler)
    for model in (taudiff, baseline):
        assert isinstance(model, DownscaleModel) and not isinstance(model, EnsembleModel)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_return_a_sampler_step(name):
    import torch

    sampler = make_sampler(name, CosineSchedule(100), 4)
    assert isinstance(sampler, Sampler)
    x = torch.randn(2, 3)
    out = sampler.step(torch.zeros_like(x), 0, x, generator=torch.Generator().manual_seed(0))
    assert isinstance(out, SamplerStep) and out.prev_sample.shape == out.pred_original_sample.shape == x.shape
    prev, x0 = out  # unpacks as the pair it used to be
    assert prev is out.prev_sample and x0 is out.pred_original_sample
