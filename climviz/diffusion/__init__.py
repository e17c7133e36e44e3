"""Diffusion: noise schedules, training loss, samplers. Tensors only."""

from climviz.diffusion.schedule import CosineSchedule
from climviz.diffusion.samplers import SAMPLERS, DDIMSampler, DDPMSampler, make_sampler, sample

__all__ = ["CosineSchedule", "DDPMSampler", "DDIMSampler", "SAMPLERS", "make_sampler", "sample"]
