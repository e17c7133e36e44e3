"""Where a command group adds its sub-commands.

Every module of :mod:`climviz.cli` that holds commands (``data``, ``ensemble``,
``downscale``) exposes ``register(commands: Commands) -> None`` and adds its
parsers to the tables of one :class:`Commands`; each parser sets ``handler``
(``handler(args) -> int``, the exit status). Handlers import torch and xarray
inside, so building the parser (``climviz --help``) stays fast.
"""

from __future__ import annotations

import argparse

from climviz.vocabulary import DEFAULT_DEVICE, DEVICES

# the command groups that hold sub-commands of their own: name -> (help, dest, metavar)
_GROUPS = {
    "train": ("train models (resumable; checkpoints as it goes)", "train_command", "MODEL"),
    "evaluate": ("score trained models against held-out truth", "evaluate_command", "WHAT"),
}


class Commands:
    """The sub-command tables of the ``climviz`` parser, each an ``add_subparsers()`` object.

    ``top``: ``climviz NAME``; ``train``: ``climviz train NAME``; ``evaluate``:
    ``climviz evaluate NAME``. ``train`` and ``evaluate`` are made on first use, so
    ``climviz --help`` lists the commands in the order the groups register them.
    """

    def __init__(self, parser: argparse.ArgumentParser):
        self.top = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def _group(self, name: str) -> argparse._SubParsersAction:
        if name not in self._groups:
            help_, dest, metavar = _GROUPS[name]
            parser = self.top.add_parser(name, help=help_)
            self._groups[name] = parser.add_subparsers(dest=dest, required=True, metavar=metavar)
        return self._groups[name]

    @property
    def train(self) -> argparse._SubParsersAction:
        return self._group("train")

    @property
    def evaluate(self) -> argparse._SubParsersAction:
        return self._group("evaluate")


def add_device_option(p: argparse.ArgumentParser) -> None:
    """``--device`` (:data:`climviz.vocabulary.DEVICES`): handed to the pipeline, which resolves it with
    :func:`climviz.devices.resolve_device`."""
    p.add_argument(
        "--device",
        choices=DEVICES,
        default=DEFAULT_DEVICE,
        help=f"where the model runs (default {DEFAULT_DEVICE}: a CUDA GPU when torch sees one, else the CPU)",
    )


def add_ema_option(p: argparse.ArgumentParser) -> None:
    """``--ema DECAY`` for a training command (:attr:`climviz.train.common.LoopSettings.ema`)."""
    p.add_argument(
        "--ema",
        type=float,
        default=0.0,
        metavar="DECAY",
        help="keep an exponential moving average of the weights with this decay (e.g. 0.998) and "
        "validate and ship it instead of the raw weights; a resumed run without one starts it from "
        "its latest weights (default 0: none)",
    )


def check_ema(decay: float) -> None:
    """Refuse an ``--ema`` decay outside [0, 1)."""
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"--ema {decay}: the decay must be in [0, 1)")
