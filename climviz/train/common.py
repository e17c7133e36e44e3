"""Pieces every training loop shares: device, schedule, resumable loop."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from climviz.devices import resolve_device
from climviz.nn import checkpoint as ckpt
from climviz.train import distributed

Progress = Callable[[int, int, dict], None]


def default_device() -> torch.device:
    """CUDA when available (``cuda:LOCAL_RANK`` under torchrun), else the CPU."""
    return resolve_device("auto", index=distributed.local_rank() if distributed.requested() else None)


def hardware() -> str:
    """One line naming what runs the training (for model cards)."""
    if torch.cuda.is_available():
        one = torch.cuda.get_device_name(torch.cuda.current_device())
    else:
        one = f"CPU, {torch.get_num_threads()} thread(s)"
    world = distributed.world_size()
    return one if world == 1 else f"{world} processes x {one}"


def cosine_lr(step: int, total: int, base: float, warmup: int = 100) -> float:
    """Linear warm-up then cosine decay to 10% of ``base``."""
    if step < warmup:
        return base * (step + 1) / warmup
    frac = (step - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


@dataclass
class LoopSettings:
    steps: int = 2000  # optimiser steps in all
    batch_size: int = 32  # samples per step (all processes together under torchrun)
    lr: float = 1e-3  # peak learning rate
    seed: int = 0  # seeds batches and noise (step-wise, so resuming is exact)
    checkpoint_every: int = 250  # steps between checkpoints
    log_every: int = 25  # steps between progress reports


def run_loop(
    model: torch.nn.Module,
    loss_fn: Callable[[int, torch.Generator, torch.nn.Module], tuple[torch.Tensor, dict]],
    out_dir,
    config: dict,
    settings: LoopSettings,
    *,
    resume: bool = True,
    progress: Progress | None = None,
) -> torch.nn.Module:
    """Optimise ``model`` with AdamW; ``loss_fn(step, generator, net) -> (loss, metrics)``.

    ``net`` is the module to call in the loss: ``model`` itself, or under
    torchrun ``model`` in DistributedDataParallel. There the loss draws the
    global batch of ``settings.batch_size`` from ``generator`` (the same on
    every rank) and keeps its :func:`~climviz.train.distributed.shard`.

    Every ``checkpoint_every`` steps and at the end the weights, ``config`` and
    the optimiser state are written to ``out_dir`` (by rank 0); with ``resume``
    a run picks up from the last saved step. The generator is reseeded from
    ``(seed, step)`` each step, so a resumed run draws the same batches.
    """
    distributed.init()
    distributed.check_batch(settings.batch_size)
    rank0 = distributed.is_rank0()
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.0)
    start, earlier_s = 0, 0.0
    if resume:  # every rank reads the same saved state
        info = ckpt.load_train_state(out_dir, opt)
        if info is not None:
            ckpt.load_weights(out_dir, model, device=next(model.parameters()).device)
            start, earlier_s = int(info["step"]), float(info.get("wall_time_s", 0.0))
    net = distributed.wrap(model)
    gen = torch.Generator(device="cpu")
    t0, metrics = time.time(), {}
    model.train()
    for step in range(start, settings.steps):
        gen.manual_seed(settings.seed * 1_000_003 + step)
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, settings.steps, settings.lr)
        loss, metrics = loss_fn(step, gen, net)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients over the ranks here
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if not (torch.isfinite(loss) and torch.isfinite(norm)):  # the norm is the same on every rank
            raise FloatingPointError(
                f"loss became {loss.item()} (gradient norm {norm.item()}) at step {step}"
            )
        opt.step()
        done = step + 1
        if progress is not None and (done % settings.log_every == 0 or done == settings.steps):
            shown = distributed.average({"loss": loss.item(), **metrics})
            if rank0:
                progress(done, settings.steps, {**shown, "elapsed_s": time.time() - t0})
        if rank0 and (done % settings.checkpoint_every == 0 or done == settings.steps):
            wall = round(earlier_s + time.time() - t0, 1)
            cfg = {**config, "trained_steps": done, "wall_time_s": wall, "hardware": hardware()}
            ckpt.save_checkpoint(out_dir, model, cfg)
            ckpt.save_train_state(out_dir, opt, {"step": done, "wall_time_s": wall})
    distributed.barrier()  # the checkpoint is complete before any rank reads it
    model.eval()
    return model
