"""Checkpoints: weights in safetensors, hyper-parameters in JSON. Never pickle.

A checkpoint directory holds ``model.safetensors`` and ``config.json``
(and, while training, ``train_state.safetensors`` + ``train_state.json`` +
``train_state_model.safetensors`` so a run can resume: with early stopping
``model.safetensors`` holds the best weights, the train state the latest). Loading refuses directories that contain pickle files, and
validates the config before any module is built:

- :func:`load_config` returns the JSON as a :class:`Config` (a dict whose
  missing keys raise :class:`CheckpointError` naming the file and key);
- :func:`config_from_dict` turns one section into a config dataclass, checking
  keys, types and ranges of every value;
- :func:`load_model` builds the network on PyTorch's ``meta`` device (no
  memory), compares its tensor names and shapes with the safetensors header,
  and only then builds it for real and loads the weights.

Every problem is a :class:`CheckpointError` with a one-line message.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

WEIGHTS, CONFIG = "model.safetensors", "config.json"
STATE_WEIGHTS, STATE_CONFIG = "train_state.safetensors", "train_state.json"
STATE_MODEL = "train_state_model.safetensors"  # the latest weights (model.safetensors may hold the best)
STATE_EMA = "train_state_ema.safetensors"  # the exponential moving average of the weights, when kept
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be (safely) loaded."""


class MissingKeyError(CheckpointError, KeyError):
    """A key that a :class:`Config` lacks (a ``KeyError`` too, for ``except KeyError`` callers)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


class Config(dict):
    """A parsed ``config.json`` section; ``source`` names it (file and key path) in errors."""

    def __init__(self, data: dict, source: str):
        super().__init__(
            {k: Config(v, f"{source}[{k!r}]") if isinstance(v, dict) else v for k, v in data.items()}
        )
        self.source = source

    def __getitem__(self, key):
        try:
            return super().__getitem__(key)
        except KeyError:
            raise MissingKeyError(f"{self.source} has no key {key!r} (keys: {sorted(self)})") from None


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


def save_config(directory: str | os.PathLike, config: dict) -> Path:
    """Write ``config`` as ``directory/config.json`` (atomically)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    _write_json(d / CONFIG, config)
    return d / CONFIG


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
    return Config(cfg, str(d / CONFIG))


def weight_shapes(directory: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of ``model.safetensors``, read from its header only."""
    d = check_directory(directory)
    try:
        with safe_open(str(d / WEIGHTS), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types for bad headers
        raise CheckpointError(
            f"{d / WEIGHTS} is not a readable safetensors file ({type(err).__name__}: {err})"
        ) from None


def _shape_problems(expected: dict[str, tuple], found: dict[str, tuple]) -> list[str]:
    """What differs between the tensors a network needs and those a weights file holds (first three of each)."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = [
        f"{k} is {list(found[k])}, the config needs {list(expected[k])}"
        for k in sorted(set(expected) & set(found))
        if tuple(found[k]) != tuple(expected[k])
    ]
    out = []
    for what, items, sep in (
        ("missing", missing, ", "),
        ("unexpected", extra, ", "),
        ("of the wrong shape", wrong, "; "),
    ):
        if items:
            out.append(
                f"{len(items)} tensor(s) {what} ({sep.join(items[:3])}{sep + '...' if len(items) > 3 else ''})"
            )
    return out


def load_model(
    directory: str | os.PathLike, build: Callable[[object], torch.nn.Module], config, device="cpu"
) -> torch.nn.Module:
    """``build(config)`` with the weights of ``directory``; nothing is allocated until they fit.

    The module is first built on the ``meta`` device (shapes only) and compared
    with the safetensors header, so a config that does not match its weights
    (or asks for an absurdly large network) fails with a :class:`CheckpointError`
    before any memory is used.
    """
    d = check_directory(directory)
    found = weight_shapes(d)
    try:
        with torch.device("meta"):
            probe = build(config)
    except (ValueError, TypeError, RuntimeError, AssertionError, ZeroDivisionError) as err:
        raise CheckpointError(f"{d / CONFIG}: the configured network cannot be built ({err})") from None
    expected = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    del probe
    problems = _shape_problems(expected, found)
    if problems:
        raise CheckpointError(f"the weights in {str(d)!r} do not fit its config: " + "; ".join(problems))
    return load_weights(d, build(config), device)


def load_weights(directory: str | os.PathLike, model: torch.nn.Module, device="cpu") -> torch.nn.Module:
    """Load ``model.safetensors`` into ``model`` (strict: names and shapes must match)."""
    d = check_directory(directory)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = _shape_problems(expected, weight_shapes(d))
    if problems:
        raise CheckpointError(
            f"the weights in {str(d)!r} do not fit the configured model: " + "; ".join(problems)
        )
    try:
        tensors = load_file(str(d / WEIGHTS), device=str(device))
        model.load_state_dict(tensors, strict=True)
    except Exception as err:  # a truncated data section, a dtype torch cannot take
        raise CheckpointError(
            f"cannot load the weights in {str(d)!r} ({type(err).__name__}: {err})"
        ) from None
    return model


# ---------------------------------------------------------------- config validation
INT_LIMITS = (1, 4096)  # default range of an integer hyper-parameter (channels, sizes, counts)
FLOAT_LIMITS = (1e-6, 1e3)  # default range of a float hyper-parameter (ratios)


def _where(d) -> str:
    return getattr(d, "source", None) or "config"


def _check_value(name: str, value, tp, limits: tuple, where: str):
    """``value`` checked against annotation ``tp``; lists become the annotated container."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (tp,) = [a for a in args if a is not type(None)]
        return _check_value(name, value, tp, limits, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise CheckpointError(f"{where}: {name} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CheckpointError(f"{where}: {name} must be an integer, got {value!r}")
        if not limits[0] <= value <= limits[1]:
            raise CheckpointError(f"{where}: {name} = {value} is outside [{limits[0]}, {limits[1]}]")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CheckpointError(f"{where}: {name} must be a finite number, got {value!r}")
        if not limits[0] <= value <= limits[1]:
            raise CheckpointError(f"{where}: {name} = {value} is outside [{limits[0]:g}, {limits[1]:g}]")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise CheckpointError(f"{where}: {name} must be a string, got {value!r}")
        return value
    container = origin or tp
    if container in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise CheckpointError(f"{where}: {name} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis or container is list:
            items = (args[0] if args else float,) * len(value)
            if not value:
                raise CheckpointError(f"{where}: {name} must not be empty")
        else:
            items = args
            if len(value) != len(items):
                raise CheckpointError(f"{where}: {name} must have {len(items)} entries, got {len(value)}")
        return container(
            _check_value(f"{name}[{i}]", v, t, limits, where) for i, (v, t) in enumerate(zip(value, items))
        )
    raise TypeError(f"config_from_dict cannot check {name}: {tp}")  # a programming error


def config_from_dict(cls, d, *, limits: dict[str, tuple] | None = None, optional: tuple[str, ...] = ()):
    """Build dataclass ``cls`` from the dict ``d`` of a checkpoint, checking every value first.

    Keys must be exactly the fields of ``cls`` (those in ``optional`` may be
    missing and take their defaults: fields added after checkpoints were
    written). Booleans must be JSON ``true``/``false``; integers, floats and
    lists/tuples of them are checked against the field's type and against
    ``limits[name]`` (default :data:`INT_LIMITS`, :data:`FLOAT_LIMITS`; for a
    list, each entry). ``cls.check()``, if defined,
    then checks relations between fields (raising ``ValueError``).
    Raises :class:`CheckpointError` naming the file, key and value.
    """
    where = _where(d)
    if not isinstance(d, dict):
        raise CheckpointError(f"{where}: expected an object of {cls.__name__} settings, got {d!r}")
    limits = limits or {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise CheckpointError(f"{where}: unknown {cls.__name__} keys {unknown}; known: {sorted(fields)}")
    missing = sorted(set(fields) - set(d) - set(optional))
    if missing:
        raise CheckpointError(f"{where}: {cls.__name__} keys {missing} are missing")
    values = {}
    for name, value in d.items():
        tp = hints[name]
        default = FLOAT_LIMITS if float in (tp, *typing.get_args(tp)) else INT_LIMITS
        values[name] = _check_value(name, value, tp, limits.get(name, default), where)
    cfg = cls(**values)
    check = getattr(cfg, "check", None)
    if check is not None:
        try:
            check()
        except ValueError as err:
            raise CheckpointError(f"{where}: {err}") from None
    return cfg


# ---------------------------------------------------------------- training state
def save_train_state(directory, optimizer: torch.optim.Optimizer, info: dict, model=None, ema=None) -> None:
    """Optimizer moments (safetensors), loop counters/RNG (JSON) and, with ``model``, its latest
    weights, with ``ema`` the moving average of the weights (a module of the same shape), for
    resuming."""
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
    for module, name in ((model, STATE_MODEL), (ema, STATE_EMA)):
        if module is not None:
            weights = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
            _atomic_write(d / name, lambda p, w=weights: save_file(w, str(p)))
    _atomic_write(d / STATE_WEIGHTS, lambda p: save_file(tensors, str(p)))
    _write_json(d / STATE_CONFIG, {"info": info, "scalars": scalars, "param_groups": sd["param_groups"]})


def load_train_state(
    directory, optimizer: torch.optim.Optimizer, model=None, device="cpu", ema=None
) -> dict | None:
    """Restore what :func:`save_train_state` wrote; returns ``info`` or None if absent.

    With ``model``, its latest weights are loaded too (from ``train_state_model.safetensors``,
    or ``model.safetensors`` for a train state written without them). With ``ema``, the saved
    moving average is loaded into it, or the latest weights where the state kept none (a run
    that starts averaging when resumed).
    """
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
    if model is not None:
        if (d / STATE_MODEL).is_file():
            model.load_state_dict(load_file(str(d / STATE_MODEL), device=str(device)), strict=True)
        else:
            load_weights(d, model, device=device)
    if ema is not None:
        if (d / STATE_EMA).is_file():
            ema.load_state_dict(load_file(str(d / STATE_EMA), device=str(device)), strict=True)
        elif model is not None:
            ema.load_state_dict(model.state_dict())
    return meta["info"]


def clear_train_state(directory) -> None:
    for name in (STATE_WEIGHTS, STATE_CONFIG, STATE_MODEL, STATE_EMA):
        p = Path(directory) / name
        if p.exists():
            p.unlink()
