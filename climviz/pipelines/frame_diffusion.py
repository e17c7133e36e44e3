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

from climviz.diffusion.samplers import make_sampler, sample
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

    def evaluations(self, n_frames: int, n_samples: int, n_steps: int, batch: int) -> int:
        """Network evaluations to draw ``n_samples`` samples of ``n_frames`` frames, ``batch`` per call."""
        if self.sequential:  # one frame at a time, samples side by side
            return n_frames * -(-n_samples // batch) * n_steps
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
    ) -> torch.Tensor:
        """``cond [N, Cc, H, W]`` -> samples ``[N, C, H, W]`` (scaled by ``scale``), ``batch_frames`` at a time."""
        dev = cond.device
        c = self.net.cfg.out_channels
        out = []
        for i in range(0, cond.shape[0], batch_frames):
            cc = cond[i : i + batch_frames]
            sch = make_sampler(sampler, self.schedule, steps)
            x = sample(
                lambda x, t, cc=cc: self.net(x, t, cc),
                (cc.shape[0], c, *cc.shape[2:]),
                sch,
                generator=generator,
                device=dev,
                callback=(lambda *_: progress()) if progress else None,
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
    ) -> torch.Tensor:
        """``cond [N, Cc, H, W]`` (frames in time order) -> samples ``[S, N, C, H, W]`` (scaled by
        ``scale``), ``S = len(generators)``.

        Frame ``n`` of sample ``k`` is drawn given frame ``n - 1`` of sample ``k``
        (its ``x0``, the network's ``prev``; zeros for ``n = 0``). The samples run
        ``batch`` at a time; sample ``k`` draws all its noise from ``generators[k]``,
        so it does not depend on how many samples are drawn with it.
        """
        if not self.sequential:
            raise ValueError(f"{self.name or 'this model'} was not trained with prev_residual")
        dev = cond.device
        c = self.net.cfg.out_channels
        n_s, n_f = len(generators), cond.shape[0]
        out = cond.new_empty(n_s, n_f, c, *cond.shape[2:])
        prev = cond.new_zeros(n_s, c, *cond.shape[2:])  # the first frame has no predecessor
        for i in range(n_f):
            for j in range(0, n_s, batch):
                b = min(batch, n_s - j)
                cc, pp = cond[i : i + 1].expand(b, *cond.shape[1:]), prev[j : j + b]
                sch = make_sampler(sampler, self.schedule, steps)
                out[j : j + b, i] = sample(
                    lambda x, t, cc=cc, pp=pp: self.net(x, t, cc, pp),
                    (b, c, *cond.shape[2:]),
                    sch,
                    generator=list(generators[j : j + b]),
                    device=dev,
                    callback=(lambda *_: progress()) if progress else None,
                )
            prev = out[:, i]
        return out * self.scale.to(dev)


def sampling_note(diffusion: FrameDiffusion) -> str:
    """How ``diffusion`` orders its frames, for a downscaled file's attributes."""
    if diffusion.sequential:
        return "in time order, each frame conditioned on the previous frame's sample (first: zeros)"
    return "each frame independently"
