"""Pieces every training loop shares: device, schedule, resumable loop."""

from __future__ import annotations

import copy
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
    eval_every: int = 0  # steps between validation losses (0: no validation, no early stopping)
    patience: int = 0  # evaluations without a new best before stopping (0: run all steps)
    ema: float = 0.0  # decay of an exponential moving average of the weights (0: none)


def ema_decay(decay: float, updates: int) -> float:
    """The moving average's decay after ``updates`` updates: ``decay``, but no more than
    ``(1 + updates) / (10 + updates)``, so the first weights are soon forgotten."""
    return min(decay, (1 + updates) / (10 + updates))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """``ema <- decay * ema + (1 - decay) * model`` for every parameter; buffers are copied."""
    for a, p in zip(ema.parameters(), model.parameters(), strict=True):
        a.lerp_(p.detach(), 1.0 - decay)
    for a, b in zip(ema.buffers(), model.buffers(), strict=True):
        a.copy_(b)


Validate = Callable[[torch.nn.Module], float]


def _new_validation(settings: LoopSettings) -> dict:
    return {
        "every": settings.eval_every,
        "patience": settings.patience,
        "history": [],  # [step, validation loss, mean training loss since the previous evaluation]
        "best_step": None,
        "best_loss": None,
        "since_best": 0,  # evaluations since the best one
        "stopped_early": False,
    }


def should_stop(validation: dict, patience: int) -> bool:
    """True once ``patience`` evaluations in a row brought no new best (never for ``patience=0``)."""
    return patience > 0 and validation["since_best"] >= patience


def record_validation(validation: dict, step: int, loss: float, train_loss: float) -> bool:
    """Append an evaluation to ``validation`` (in place); True when it is a new best (strictly lower)."""
    validation["history"].append([int(step), float(loss), float(train_loss)])
    best = validation["best_loss"]
    if best is None or loss < best:
        validation.update(best_step=int(step), best_loss=float(loss), since_best=0)
        return True
    validation["since_best"] += 1
    return False


def run_loop(
    model: torch.nn.Module,
    loss_fn: Callable[[int, torch.Generator, torch.nn.Module], tuple[torch.Tensor, dict]],
    out_dir,
    config: dict,
    settings: LoopSettings,
    *,
    resume: bool = True,
    progress: Progress | None = None,
    validate: Validate | None = None,
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

    Early stopping: with ``validate(model) -> loss`` (a fixed validation set
    and fixed noise, so evaluations compare) and ``settings.eval_every > 0``,
    the loss is evaluated every ``eval_every`` steps and at the last step, in
    ``eval`` mode without gradients. ``model.safetensors`` then holds the
    weights of the best evaluation so far (``trained_steps`` in the config is
    that step); the latest weights live in the train state, written at every
    evaluation too. After ``patience`` evaluations in a row without a new best
    the loop stops. ``config["validation"]`` and the train state record the
    curve (``history``: ``[step, validation loss, mean training loss since the
    previous evaluation]``), ``best_step``, ``best_loss`` and ``stopped_early``;
    a resumed run continues them. The returned model holds the best weights.
    """
    distributed.init()
    distributed.check_batch(settings.batch_size)
    rank0 = distributed.is_rank0()
    validating = validate is not None and settings.eval_every > 0
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.0)
    start, earlier_s = 0, 0.0
    val = _new_validation(settings) if validating else None
    train_sum, train_n = 0.0, 0  # training loss since the previous evaluation
    ema = copy.deepcopy(model).eval().requires_grad_(False) if settings.ema > 0 else None
    ema_updates = 0
    if resume:  # every rank reads the same saved state
        device = next(model.parameters()).device
        info = ckpt.load_train_state(out_dir, opt, model=model, device=device, ema=ema)
        if info is not None:
            start, earlier_s = int(info["step"]), float(info.get("wall_time_s", 0.0))
            ema_updates = int(info.get("ema_updates", 0))
            if validating and info.get("validation"):
                val = {**info["validation"], "every": settings.eval_every, "patience": settings.patience}
                train_sum, train_n = float(info.get("train_loss_sum", 0.0)), int(info.get("train_loss_n", 0))
    net = distributed.wrap(model)
    gen = torch.Generator(device="cpu")
    t0, metrics = time.time(), {}

    def wall() -> float:
        return round(earlier_s + time.time() - t0, 1)

    kept = model if ema is None else ema  # what is validated and saved as the model

    def run_config(trained_steps: int) -> dict:
        cfg = {**config, "trained_steps": trained_steps, "wall_time_s": wall(), "hardware": hardware()}
        if ema is not None:
            cfg["ema"] = {"decay": settings.ema, "updates": ema_updates}
        return cfg if val is None else {**cfg, "validation": val}

    model.train()
    done = start
    for step in range(start, settings.steps):
        if validating and should_stop(val, settings.patience):
            break
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
        if ema is not None:
            update_ema(ema, model, ema_decay(settings.ema, ema_updates))
            ema_updates += 1
        done = step + 1
        if progress is not None and (done % settings.log_every == 0 or done == settings.steps):
            shown = distributed.average({"loss": loss.item(), **metrics})
            if rank0:
                progress(done, settings.steps, {**shown, "elapsed_s": time.time() - t0})
        evaluated = validating and (done % settings.eval_every == 0 or done == settings.steps)
        if validating:
            train_sum, train_n = train_sum + float(loss.detach()), train_n + 1
        if evaluated:
            kept.eval()
            with torch.no_grad():
                v = float(validate(kept))
            model.train()
            v, mean_train = distributed.average({"v": v, "t": train_sum / max(1, train_n)}).values()
            train_sum, train_n = 0.0, 0
            best = record_validation(val, done, v, mean_train)
            val["stopped_early"] = should_stop(val, settings.patience) and done < settings.steps
            if rank0:
                if best:
                    ckpt.save_checkpoint(out_dir, kept, run_config(done))
                else:
                    ckpt.save_config(out_dir, run_config(val["best_step"]))
            if progress is not None and rank0:
                shown = {"val_loss": v, "best_val_loss": val["best_loss"], "best_step": val["best_step"]}
                progress(done, settings.steps, shown)
        if rank0 and (done % settings.checkpoint_every == 0 or done == settings.steps or evaluated):
            if not validating:
                ckpt.save_checkpoint(out_dir, kept, run_config(done))
            state = {"step": done, "wall_time_s": wall()}
            if ema is not None:
                state["ema_updates"] = ema_updates
            if validating:
                state.update(validation=val, train_loss_sum=train_sum, train_loss_n=train_n)
            ckpt.save_train_state(out_dir, opt, state, model=model, ema=ema)
    distributed.barrier()  # the checkpoint is complete before any rank reads it
    if validating and val["best_step"] is not None:
        ckpt.load_weights(out_dir, model, device=next(model.parameters()).device)
    elif ema is not None:
        model.load_state_dict(ema.state_dict())
    model.eval()
    return model
