"""Background jobs for the app: one long computation in a thread, with progress and cancel (no Panel).

The page starts a :class:`Job` and polls it from its own session (a periodic
callback), so the worker thread never touches a browser document. At most
``CLIMVIZ_MAX_JOBS`` (default 2) jobs compute at once in one server process;
up to ``CLIMVIZ_MAX_QUEUE`` (default 4) more wait for a free slot and say so,
and a job beyond those is refused at once (:class:`Busy`).
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable


class Cancelled(Exception):
    """Raised inside a job's progress callback after :meth:`Job.cancel`."""


class Busy(RuntimeError):
    """Raised by :meth:`Job.start` when every slot is taken and the queue is full."""


def env_cap(name: str, default: int) -> int:
    """An integer cap from environment variable ``name`` (``default`` when unset or not an integer)."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class Slots:
    """``running`` jobs compute at once; at most ``waiting`` more queue for a slot."""

    def __init__(self, running: int, waiting: int):
        self.running, self.max_waiting = running, waiting
        self.active = 0  # jobs started and not ended: computing or queued
        self._sem = threading.BoundedSemaphore(running)
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return max(0, self.active - self.running)

    def enter(self) -> None:
        """Take a place (a slot or the queue), or raise :class:`Busy`."""
        with self._lock:
            if self.active >= self.running + self.max_waiting:
                raise Busy(
                    f"The server is busy: {min(self.active, self.running)} computations are running and "
                    f"{self.waiting} are waiting (CLIMVIZ_MAX_JOBS={self.running}, "
                    f"CLIMVIZ_MAX_QUEUE={self.max_waiting}). Try again in a minute."
                )
            self.active += 1

    def leave(self) -> None:
        """Give the place back (the job has ended)."""
        with self._lock:
            self.active -= 1

    def acquire(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a slot."""
        return self._sem.acquire(timeout=timeout)

    def release(self) -> None:
        self._sem.release()


SLOTS = Slots(max(1, env_cap("CLIMVIZ_MAX_JOBS", 2)), max(0, env_cap("CLIMVIZ_MAX_QUEUE", 4)))


class Job:
    """Run ``fn(report)`` in a daemon thread.

    ``report(done, total)`` records progress and raises :class:`Cancelled` once
    :meth:`cancel` was called; pass it as the pipeline's ``progress`` callback.
    After the thread ends exactly one of ``result``, ``error`` (a message) or
    ``cancelled`` is set. ``state`` is ``"waiting"``, ``"running"`` or ``"done"``.
    """

    def __init__(
        self,
        fn: Callable[[Callable[[int, int], None]], object],
        *,
        slots: Slots | None = None,
        name: str = "climviz-job",
    ):
        self.fn, self.name = fn, name
        self.slots = SLOTS if slots is None else slots
        self.done_steps, self.total_steps = 0, 1
        self.result = None
        self.error: str | None = None
        self.traceback: str | None = None
        self.cancelled = False
        self.state = "waiting"
        self.started = self.finished = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # ------------------------------------------------------------ control
    def start(self) -> Job:
        """Queue the job (raises :class:`Busy` when the queue is full) and start its thread."""
        self.slots.enter()
        try:
            self._thread.start()
        except BaseException:
            self.slots.leave()
            raise
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def finished_ok(self) -> bool:
        return self.state == "done" and self.error is None and not self.cancelled

    @property
    def fraction(self) -> float:
        return min(1.0, self.done_steps / max(1, self.total_steps))

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.perf_counter()) - self.started

    # ------------------------------------------------------------ worker
    def report(self, done: int, total: int) -> None:
        self.done_steps, self.total_steps = int(done), max(1, int(total))
        if self._cancel.is_set():
            raise Cancelled()

    def _run(self) -> None:
        acquired = False
        try:
            while not (acquired := self.slots.acquire(timeout=0.2)):
                if self._cancel.is_set():
                    raise Cancelled()
            self.state = "running"
            self.started = time.perf_counter()
            if self._cancel.is_set():
                raise Cancelled()
            self.result = self.fn(self.report)
        except Cancelled:
            self.cancelled = True
        except Exception as err:  # shown in the page; the session lives on
            self.error = f"{type(err).__name__}: {err}"
            self.traceback = traceback.format_exc()
        finally:
            if acquired:
                self.slots.release()
            self.slots.leave()
            self.finished = time.perf_counter()
            self.state = "done"
