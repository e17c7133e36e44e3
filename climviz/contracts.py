"""What the app and the workflows rely on, as ``typing.Protocol``s (as earth2studio's components).

Typing only: nothing here imports torch, numpy or xarray at run time, so state
objects can name these types without loading a model's dependencies. All are
``runtime_checkable``: ``isinstance(obj, EnsembleModel)`` checks that the
attributes and methods exist (not their signatures).

- :class:`EnsembleModel`: generates ensemble members from one conditioning run
  (:class:`climviz.pipelines.ensemble.EnsembleGenerator`);
- :class:`DownscaleModel`: coarse wind to fine samples
  (:class:`climviz.pipelines.downscale.Downscaler` and ``BaselineDownscaler``);
- :class:`Sampler` and its :class:`SamplerStep`: one diffusion sampler
  (:mod:`climviz.diffusion.samplers`).

``generate`` and ``downscale`` take the frozen requests of :mod:`climviz.requests`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import torch
    import xarray as xr

    from climviz.requests import DownscaleRequest, GenerationRequest

Progress = Callable[[int, int], None]
"""``progress(done, total)`` after each network evaluation."""


class SamplerStep(NamedTuple):
    """What one sampler step returns (diffusers' ``SchedulerOutput`` fields); unpacks as a pair."""

    prev_sample: torch.Tensor  # x at the next, less noisy timestep (clean data after the last), [B, ...]
    pred_original_sample: torch.Tensor  # this step's prediction of the clean data x0, [B, ...]


@runtime_checkable
class Sampler(Protocol):
    """A diffusion sampler: ``set_timesteps(n)`` fills ``timesteps``, then one ``step`` per entry.

    ``step(model_output, i, sample, generator)``: ``model_output`` the network's ``v``
    for ``sample`` at ``timesteps[i]``; ``generator`` (a ``torch.Generator``, or one per
    batch item) for the ancestral samplers' noise.
    """

    name: str
    timesteps: torch.Tensor  # [n] training steps, descending

    def set_timesteps(self, num_steps: int) -> None: ...

    def step(
        self, model_output: torch.Tensor, i: int, sample: torch.Tensor, generator=None
    ) -> SamplerStep: ...


@runtime_checkable
class EnsembleModel(Protocol):
    """Generates new members that share a conditioning run's forced response.

    ``lat``, ``lon``: the model's grid (degrees; a run on another global grid is
    regridded); ``trained_years(mode)``: the decimal-year span the model may
    generate (``(-inf, inf)`` when not bound to a period).
    """

    source: str  # checkpoint directory ('' when built from parts)
    device: torch.device
    lat: np.ndarray
    lon: np.ndarray

    @property
    def modes(self) -> Sequence[str]: ...

    def trained_years(self, mode: str | None = None) -> tuple[float, float]: ...

    def generate(
        self,
        cond: xr.DataArray,
        request: GenerationRequest,
        *,
        progress: Progress | None = None,
        preview: Callable[[int, int, np.ndarray], None] | None = None,
        preview_frame: int = 0,
    ) -> xr.DataArray:
        """``cond (time, lat, lon)`` K -> ``tas (member, time, lat, lon)`` K with provenance attrs."""
        ...


@runtime_checkable
class DownscaleModel(Protocol):
    """Coarse ``u, v (time, lat, lon)`` -> fine samples ``u, v (sample, time, lat, lon)`` and their mean.

    ``grid``: ``coarse_lat, coarse_lon, fine_lat, fine_lon`` as stored in ``config.json``;
    ``lat, lon`` and ``coarse_lat, coarse_lon`` the same as arrays.
    """

    source: str
    device: torch.device
    grid: dict
    lat: np.ndarray
    lon: np.ndarray
    coarse_lat: np.ndarray
    coarse_lon: np.ndarray

    def downscale(
        self, coarse: xr.Dataset, request: DownscaleRequest, *, progress: Progress | None = None
    ) -> xr.Dataset:
        """Returns ``u, v (sample, time, lat, lon)``, ``u_mean, v_mean (time, lat, lon)`` and timing attrs."""
        ...
