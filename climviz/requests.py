"""What a user asks for: frozen requests that travel unchanged from the UI, the CLI
and Dask down to the pipelines. No torch, no Panel, no xarray.

A request checks its own fields against :mod:`climviz.vocabulary` when it is made,
so a bad choice fails with the same message wherever it came from. Limits that
depend on a model (its training steps, its grid) are checked by the pipeline.

>>> GenerationRequest(n_members=3, mode="autoregressive").steps
12
>>> GenerationRequest(sampler="euler")
Traceback (most recent call last):
...
ValueError: sampler must be one of ('dpm++2m', 'dpm++2m-logsnr', 'dpm++3m-logsnr', 'ddim', 'ddpm'), got 'euler'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from climviz.vocabulary import (
    DEFAULT_BURN_IN,
    DEFAULT_DOWNSCALE_SAMPLER,
    DEFAULT_DOWNSCALE_STEPS,
    DEFAULT_MODE,
    DEFAULT_NOISE_CORRELATION,
    DEFAULT_SAMPLER,
    DEFAULT_STEPS,
    MODES,
    SAMPLER_NAMES,
)


def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def _check_int(name: str, value, low: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be at least {low}, got {value!r}")


@dataclass(frozen=True)
class GenerationRequest:
    """New ensemble members conditioned on one run (``EnsembleGenerator.generate``).

    n_members : members to generate.
    steps : sampler steps, 1 .. the model's training steps.
    mode : one of ``MODES``.
    seed : the same seed gives the same ensemble (any integer: a negative one is taken
        modulo 2**64, see :func:`climviz.pipelines.ensemble.member_seed`).
    sampler : one of ``SAMPLER_NAMES``.
    member_offset : generate members ``member_offset .. member_offset + n_members - 1`` of
        the ensemble drawn with ``seed`` (member ``k`` does not depend on ``n_members``).
    """

    n_members: int = 5
    steps: int = DEFAULT_STEPS
    mode: str = DEFAULT_MODE
    seed: int = 0
    sampler: str = DEFAULT_SAMPLER
    member_offset: int = 0

    def __post_init__(self):
        _check_int("n_members", self.n_members, 1)
        _check_int("steps", self.steps, 1)
        _check_choice("mode", self.mode, MODES)
        _check_int("seed", self.seed)
        _check_choice("sampler", self.sampler, SAMPLER_NAMES)
        _check_int("member_offset", self.member_offset, 0)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DownscaleRequest:
    """Fine-resolution samples from coarse wind (``Downscaler.downscale``).

    n_samples : residual samples per time step.
    steps : sampler steps, 1 .. the schedule's training steps.
    seed : the same seed gives the same samples (sample ``k`` does not depend on ``n_samples``).
    sampler : one of ``SAMPLER_NAMES``.
    batch_frames : frames per network call (memory, not results); a model that samples
        frames in time order (``prev_residual``) puts this many samples side by side instead.
    noise_correlation : correlation in [0, 1) of each sample's initial noise from one
        frame to the next (AR(1) in time); 0 draws every frame's noise independently.
    burn_in : draws of the first frame made and discarded before it, each given the one
        before, so that the first frame has a predecessor (models that sample frames in time
        order; others ignore it).
    """

    n_samples: int = 1
    steps: int = DEFAULT_DOWNSCALE_STEPS
    seed: int = 0
    sampler: str = DEFAULT_DOWNSCALE_SAMPLER
    batch_frames: int = 16
    noise_correlation: float = DEFAULT_NOISE_CORRELATION
    burn_in: int = DEFAULT_BURN_IN

    def __post_init__(self):
        _check_int("n_samples", self.n_samples, 1)
        _check_int("steps", self.steps, 1)
        _check_int("seed", self.seed, 0)
        _check_choice("sampler", self.sampler, SAMPLER_NAMES)
        _check_int("batch_frames", self.batch_frames, 1)
        _check_int("burn_in", self.burn_in, 0)
        rho = self.noise_correlation
        if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not 0.0 <= rho < 1.0:
            raise ValueError(f"noise_correlation must be a number in [0, 1), got {rho!r}")

    def as_dict(self) -> dict:
        return asdict(self)
