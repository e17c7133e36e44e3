"""The ``climviz`` command.

:func:`build_parser` makes the parser from the command groups in :data:`GROUPS`,
one module each (``data``, ``ensemble``, ``downscale``), every one adding its
sub-commands through ``register(commands)`` (:class:`climviz.cli.commands.Commands`).
Each sub-command parses its arguments and calls one library function; heavy
imports (torch, xarray) happen inside the handlers so ``--help`` is fast.

Run as ``climviz ...`` (the console script), ``python -m climviz ...`` or
``torchrun ... -m climviz.cli ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence

from climviz.cli import data, downscale, ensemble
from climviz.cli.commands import Commands

GROUPS = (data, ensemble, downscale)  # in this order in ``climviz --help``


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="climviz",
        description="Explore generative-AI emulators of climate simulations.",
    )
    commands = Commands(parser)
    for group in GROUPS:
        group.register(commands)
    return parser


@contextlib.contextmanager
def _sigterm_exits():
    """While inside, SIGTERM raises ``SystemExit`` so ``finally`` blocks run (the atomic
    writers then remove their partial output); the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _sigterm_exits():
            return args.handler(args)
    except (ValueError, OSError) as err:  # bad input, unreadable or unwritable paths: one line, no traceback
        print(f"climviz: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except MemoryError:
        print("climviz: error: out of memory; ask for fewer members or a shorter period", file=sys.stderr)
        return 2
