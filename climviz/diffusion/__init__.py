"""Diffusion: noise schedules, training loss, samplers. Tensors only."""

from climviz.diffusion.samplers import SAMPLERS, DDIMSampler, DDPMSampler, make_sampler, sample
from climviz.diffusion.schedule import CosineSchedule

__all__ = ["CosineSchedule", "DDPMSampler", "DDIMSampler", "SAMPLERS", "make_sampler", "sample"]
