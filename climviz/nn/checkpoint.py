"""Checkpoints: weights in safetensors, hyper-parameters in JSON. Never pickle.

A checkpoint directory holds ``model.safetensors`` and ``config.json``
(and, while training, ``train_state.safetensors`` + ``train_state.json`` so a
run can resume). Loading refuses directories that contain pickle files, and
validates the config before any module is built.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS, CONFIG = "model.safetensors", "config.json"
STATE_WEIGHTS, STATE_CONFIG = "train_state.safetensors", "train_state.json"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be (safely) loaded."""


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_json(path: Path, obj: dict) -> None:
    _atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=1, sort_keys=True)))


def save_checkpoint(directory: str | os.PathLike, model: torch.nn.Module, config: dict) -> Path:
    """Write ``model``'s weights and ``config`` into ``directory`` (each file atomically)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _atomic_write(d / WEIGHTS, lambda p: save_file(tensors, str(p)))
    _write_json(d / CONFIG, config)
    return d


def check_directory(directory: str | os.PathLike) -> Path:
    """Raise :class:`CheckpointError` unless ``directory`` is a safe, complete checkpoint."""
    d = Path(directory)
    if not d.is_dir():
        raise CheckpointError(f"checkpoint directory {str(d)!r} does not exist")
    pickles = sorted(p.name for p in d.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise CheckpointError(
            f"refusing to load {str(d)!r}: it contains pickle files {pickles}; "
            "climviz checkpoints are safetensors + JSON only"
        )
    for name in (WEIGHTS, CONFIG):
        if not (d / name).is_file():
            raise CheckpointError(f"checkpoint {str(d)!r} has no {name}")
    return d


def load_config(directory: str | os.PathLike) -> dict:
    """Read and parse ``config.json`` of a checked checkpoint directory."""
    d = check_directory(directory)
    try:
        cfg = json.loads((d / CONFIG).read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{d / CONFIG}: not valid JSON ({err})") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{d / CONFIG}: expected a JSON object")
    return cfg


def load_weights(directory: str | os.PathLike, model: torch.nn.Module, device="cpu") -> torch.nn.Module:
    """Load ``model.safetensors`` into ``model`` (strict: names and shapes must match)."""
    d = check_directory(directory)
    tensors = load_file(str(d / WEIGHTS), device=str(device))
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"weights in {str(d)!r} do not fit the configured model: {err}") from None
    return model


# ---------------------------------------------------------------- training state
def save_train_state(directory, optimizer: torch.optim.Optimizer, info: dict) -> None:
    """Optimizer moments (safetensors) and loop counters/RNG (JSON), for resuming."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v) and v.dim() > 0:
                tensors[f"{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{k}"] = float(v)
    _atomic_write(d / STATE_WEIGHTS, lambda p: save_file(tensors, str(p)))
    _write_json(d / STATE_CONFIG, {"info": info, "scalars": scalars, "param_groups": sd["param_groups"]})


def load_train_state(directory, optimizer: torch.optim.Optimizer) -> dict | None:
    """Restore what :func:`save_train_state` wrote; returns ``info`` or None if absent."""
    d = Path(directory)
    if not (d / STATE_WEIGHTS).is_file() or not (d / STATE_CONFIG).is_file():
        return None
    meta = json.loads((d / STATE_CONFIG).read_text())
    tensors = load_file(str(d / STATE_WEIGHTS))
    state: dict = {}
    for key, v in tensors.items():
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    for key, v in meta["scalars"].items():
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = torch.tensor(v)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return meta["info"]


def clear_train_state(directory) -> None:
    for name in (STATE_WEIGHTS, STATE_CONFIG):
        p = Path(directory) / name
        if p.exists():
            p.unlink()
