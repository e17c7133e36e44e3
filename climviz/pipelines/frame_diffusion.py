"""A trained frame-wise diffusion model with its schedule and output scale (tensors only).

:class:`FrameDiffusion` holds a CAU-UNet denoiser (:mod:`climviz.nn.cau_unet`),
its :class:`~climviz.diffusion.schedule.CosineSchedule` and the scale of its
output, and draws samples for a sequence of frames ``cond [N, Cc, H, W]``:

- a network without ``prev_residual`` (the shipped checkpoints): every frame
  independently, ``batch_frames`` frames per network call (:meth:`FrameDiffusion.sample`);
- a ``prev_residual`` network (``climviz train taudiff --condition-on-previous``):
  the frames in time order, each conditioned on the sample drawn for the frame
  before it (zeros for the first), as StormCast conditions on the previous
  state, with the samples side by side in each network call
  (:meth:`FrameDiffusion.sample_sequence`), so that fine scales can stay
  coherent from frame to frame.

Used by :class:`climviz.pipelines.downscale.Downscaler` (the TAUDiff residual)
and :class:`~climviz.pipelines.downscale.BaselineDownscaler`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from climviz.diffusion.samplers import ar1_noise, make_sampler, randn, sample
from climviz.diffusion.schedule import CosineSchedule
from climviz.nn import checkpoint as ckpt
from climviz.nn.cau_unet import CAUUNet, CAUUNetConfig


class FrameDiffusion:
    """A trained CAU-UNet denoiser with its schedule and output scaling (tensors only).

    Samples ``x0`` frame by frame and returns ``x0 * scale`` (``scale [C]``:
    residual std for TAUDiff, the field std for the baseline). A network built
    with ``prev_residual`` is :attr:`sequential`: :meth:`sample_sequence` draws the
    frames in time order, each given the previous frame's ``x0`` (zeros for the
    first); otherwise :meth:`sample` draws every frame independently.
    """

    def __init__(self, net: CAUUNet, schedule: CosineSchedule, scale, name: str = ""):
        self.net, self.schedule, self.name = net.eval(), schedule, name
        self.scale = torch.as_tensor(np.asarray(scale, np.float32))[:, None, None]

    @classmethod
    def from_checkpoint(cls, directory, kind: str, device="cpu") -> tuple[FrameDiffusion, dict]:
        cfg = ckpt.load_config(directory)
        if cfg.get("kind") != kind:
            raise ckpt.CheckpointError(
                f"{directory}: expected a {kind!r} checkpoint, found {cfg.get('kind')!r}"
            )
        net = ckpt.load_model(directory, CAUUNet, CAUUNetConfig.from_dict(cfg["unet"]), device)
        sched = CosineSchedule(int(cfg["schedule"]["num_train_steps"]))
        scale = cfg["residual_std"] if kind == "taudiff-residual" else cfg["normalization"]["std"]
        return cls(net.to(device), sched, scale, name=str(directory)), cfg

    @property
    def sequential(self) -> bool:
        """Whether each frame is conditioned on the previous frame's sample (``prev_residual``)."""
        return bool(self.net.cfg.prev_residual)

    def evaluations(self, n_frames: int, n_samples: int, n_steps: int, batch: int, burn_in: int = 0) -> int:
        """Network evaluations to draw ``n_samples`` samples of ``n_frames`` frames, ``batch`` per call
        (and ``burn_in`` extra draws of the first frame for a :attr:`sequential` model)."""
        if self.sequential:  # one frame at a time, samples side by side
            return (n_frames + burn_in) * -(-n_samples // batch) * n_steps
        return n_samples * -(-n_frames // batch) * n_steps

    @torch.no_grad()
    def sample(
        self,
        cond: torch.Tensor,
        *,
        steps: int,
        sampler: str,
        generator: torch.Generator,
        batch_frames: int = 16,
        progress: Callable[[], None] | None = None,
        noise_correlation: float = 0.0,
    ) -> torch.Tensor:
        """``cond [N, Cc, H, W]`` -> samples ``[N, C, H, W]`` (scaled by ``scale``), ``batch_frames`` at a time.

        ``noise_correlation`` (rho) makes the frames' initial noise AR(1) in time
        (:func:`~climviz.diffusion.samplers.ar1_noise`); 0 draws it independently.
        """
        dev = cond.device
        c = self.net.cfg.out_channels
        out, z = [], None
        for i in range(0, cond.shape[0], batch_frames):
            cc = cond[i : i + batch_frames]
            shape = (cc.shape[0], c, *cc.shape[2:])
            eps = randn(shape, generator, dev, torch.float32)
            frames = []
            for e in eps:  # AR(1) along the frames, carried across batches
                z = ar1_noise(z, e, noise_correlation)
                frames.append(z)
            sch = make_sampler(sampler, self.schedule, steps)
            x = sample(
                lambda x, t, cc=cc: self.net(x, t, cc),
                shape,
                sch,
                generator=generator,
                device=dev,
                callback=(lambda *_: progress()) if progress else None,
                noise=torch.stack(frames),
            )
            out.append(x)
        return torch.cat(out) * self.scale.to(dev)

    @torch.no_grad()
    def sample_sequence(
        self,
        cond: torch.Tensor,
        *,
        steps: int,
        sampler: str,
        generators: list[torch.Generator],
        batch: int = 16,
        progress: Callable[[], None] | None = None,
        noise_correlation: float = 0.0,
        burn_in: int = 0,
    ) -> torch.Tensor:
        """``cond [N, Cc, H, W]`` (frames in time order) -> samples ``[S, N, C, H, W]`` (scaled by
        ``scale``), ``S = len(generators)``.

        Frame ``n`` of sample ``k`` is drawn given frame ``n - 1`` of sample ``k``
        (its ``x0``, the network's ``prev``; zeros for ``n = 0``). The samples run
        ``batch`` at a time; sample ``k`` draws all its noise from ``generators[k]``,
        so it does not depend on how many samples are drawn with it.
        ``noise_correlation`` (rho) makes each sample's initial noise AR(1) from frame
        to frame (:func:`~climviz.diffusion.samplers.ar1_noise`): with a deterministic
        sampler, fine scales that the network leaves to the noise then evolve
        smoothly instead of being drawn afresh every 6 hours. 0 draws it independently.
        ``burn_in`` draws of the first frame come first, each given the draw before it
        (the first: zeros) and all discarded, so that the first returned frame has a
        predecessor like every other: without them the chain starts from zeros and its
        fine scales take days to build up.
        """
        if not self.sequential:
            raise ValueError(f"{self.name or 'this model'} was not trained with prev_residual")
        dev = cond.device
        c = self.net.cfg.out_channels
        n_s, n_f = len(generators), cond.shape[0]
        out = cond.new_empty(n_s, n_f, c, *cond.shape[2:])
        prev = cond.new_zeros(n_s, c, *cond.shape[2:])  # the first frame has no predecessor
        z: list[torch.Tensor | None] = [None] * n_s  # each sample's AR(1) noise of the frame before
        frames = [0] * int(burn_in) + list(range(n_f))  # the burn-in draws repeat frame 0
        for n, i in enumerate(frames):
            for j in range(0, n_s, batch):
                b = min(batch, n_s - j)
                cc, pp = cond[i : i + 1].expand(b, *cond.shape[1:]), prev[j : j + b]
                shape = (b, c, *cond.shape[2:])
                gens = list(generators[j : j + b])
                eps = randn(shape, gens, dev, torch.float32)
                for k in range(b):
                    z[j + k] = ar1_noise(z[j + k], eps[k], noise_correlation)
                sch = make_sampler(sampler, self.schedule, steps)
                drawn = sample(
                    lambda x, t, cc=cc, pp=pp: self.net(x, t, cc, pp),
                    shape,
                    sch,
                    generator=gens,
                    device=dev,
                    callback=(lambda *_: progress()) if progress else None,
                    noise=torch.stack(z[j : j + b]),
                )
                if n >= burn_in:
                    out[j : j + b, i] = drawn
                prev[j : j + b] = drawn
        return out * self.scale.to(dev)


def sampling_note(diffusion: FrameDiffusion, burn_in: int = 0) -> str:
    """How ``diffusion`` orders its frames, for a downscaled file's attributes."""
    if diffusion.sequential:
        first = f"{burn_in} discarded draws of itself" if burn_in else "zeros"
        return f"in time order, each frame conditioned on the previous frame's sample (first: {first})"
    return "each frame independently"
