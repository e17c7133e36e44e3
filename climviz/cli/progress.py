"""Progress lines of the ``climviz`` commands on stderr."""

from __future__ import annotations

import sys
import time


def progress_printer(label: str):
    """A ``progress(done, total)`` callback for stderr: one updating line on a terminal; in a log
    file (batch jobs, SLURM) one line per tenth of the work, with the elapsed time."""
    tty = sys.stderr.isatty()
    t0, last = time.perf_counter(), [-1]

    def progress(done: int, total: int) -> None:
        if tty:
            print(
                f"{label}: {done}/{total}", end="\n" if done >= total else "\r", file=sys.stderr, flush=True
            )
            return
        tenth = (10 * done) // max(1, total)
        if tenth > last[0] or done >= total:
            last[0] = tenth
            print(f"{label}: {done}/{total} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    return progress


def train_progress(label: str):
    """A training loop's ``progress(step, total, metrics)`` callback: one line per call on stderr,
    ``LABEL step DONE/TOTAL name=value ...``."""

    def progress(done: int, total: int, metrics: dict) -> None:
        extra = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        print(f"{label} step {done}/{total} {extra}", file=sys.stderr, flush=True)

    return progress
