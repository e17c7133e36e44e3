"""One home for the latent denoiser architectures: pick the config class and network from a checkpoint.

- ``"temporal"`` (:mod:`climviz.nn.temporal_denoiser`): one token per month,
  calendar-year features, short windows; checkpoints without an
  ``architecture`` key are of this kind.
- ``"spacetime"`` (:mod:`climviz.nn.spacetime_denoiser`): patch tokens,
  factorised space-time attention with a relative time bias over long
  windows, a separate conditioning path, no calendar year.
- ``"tunet"`` (:mod:`climviz.nn.tunet_denoiser`): a 1-D U-Net of temporal
  convolutions over month tokens (1 to 8 months a step) plus a per-pixel
  path, a separate conditioning path, no calendar year.
"""

from __future__ import annotations

from climviz.nn.checkpoint import CheckpointError
from climviz.nn.spacetime_denoiser import ARCHITECTURE as SPACETIME
from climviz.nn.spacetime_denoiser import SpaceTimeConfig, SpaceTimeDenoiser
from climviz.nn.temporal_denoiser import DenoiserConfig, TemporalDenoiser
from climviz.nn.tunet_denoiser import ARCHITECTURE as TUNET
from climviz.nn.tunet_denoiser import TemporalUNetDenoiser, TUNetConfig

TEMPORAL = "temporal"
ARCHITECTURES = (TUNET, SPACETIME, TEMPORAL)


def denoiser_config(d: dict, architecture: str | None = None):
    """The config object of a checkpoint's ``denoiser`` dict (checked), or of ``architecture`` + overrides."""
    kind = architecture or (d.get("architecture", TEMPORAL) if isinstance(d, dict) else TEMPORAL)
    if kind == SPACETIME:
        return SpaceTimeConfig.from_dict(d) if architecture is None else SpaceTimeConfig(**d)
    if kind == TUNET:
        return TUNetConfig.from_dict(d) if architecture is None else TUNetConfig(**d)
    if kind == TEMPORAL:
        return DenoiserConfig.from_dict(d) if architecture is None else DenoiserConfig(**d)
    message = f"unknown denoiser architecture {kind!r}; known: {list(ARCHITECTURES)}"
    if architecture is None:  # read from a checkpoint: name the file
        raise CheckpointError(f"{getattr(d, 'source', 'config')}: {message}")
    raise ValueError(message)


def denoiser_class(cfg):
    """The network class that ``cfg`` configures."""
    if isinstance(cfg, TUNetConfig):
        return TemporalUNetDenoiser
    return SpaceTimeDenoiser if isinstance(cfg, SpaceTimeConfig) else TemporalDenoiser


def uses_calendar_year(cfg) -> bool:
    """Whether the network reads the calendar year (and so is bound to its training period)."""
    return isinstance(cfg, DenoiserConfig)
