"""What every long-running tab shares (Param only: no Panel import here).

:class:`BackgroundTask` holds the status, error and progress a page shows,
refuses a request politely (:meth:`check_request`), runs the work in a
:class:`~climviz.ui.jobs.Job` and moves the outcome into its parameters when the
page polls it. Subclasses say what to compute and what to keep of the result.
"""

from __future__ import annotations

from collections.abc import Callable

import param

from climviz.ui.jobs import Busy, Job


class BackgroundTask(param.Parameterized):
    """Base of the per-session state objects that run one job at a time."""

    status = param.String(default="", precedence=-1)
    error = param.String(default="", precedence=-1)
    progress = param.Number(default=0.0, bounds=(0, 1), precedence=-1)
    running = param.Boolean(default=False, precedence=-1)

    #: what the status and error lines call the work ("Generation", "Downscaling")
    task_name = "Computation"

    def __init__(self, **params):
        super().__init__(**params)
        self.job: Job | None = None

    # ------------------------------------------------------------ for subclasses
    def check_request(self) -> str:
        """Why the current request cannot run ('' when it can)."""
        return ""

    def _finish(self, job: Job) -> None:
        """Keep ``job.result`` (called in the session's thread after a successful job)."""
        raise NotImplementedError

    # ------------------------------------------------------------ running
    def _refuse(self) -> bool:
        """True (with ``error`` set) when a new request must be refused."""
        if self.running:
            self.error = f"{self.task_name} is already running in this session."
            return True
        why = self.check_request()
        if why:
            self.error = why
            return True
        return False

    def _launch(self, fn: Callable, status: str) -> bool:
        """Start ``fn(report)`` in a background job and say ``status``."""
        try:
            self.job = Job(fn).start()
        except Busy as err:
            self.param.update(error=str(err), status="")
            return False
        self.param.update(error="", progress=0.0, running=True, status=status)
        return True

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status = "Cancelling..."

    def poll(self) -> bool:
        """Move the job's progress and outcome into the parameters (call from the session's own thread).

        Returns True while the job is still running.
        """
        job = self.job
        if job is None:
            return False
        if job.state != "done":
            if job.state == "waiting":
                self.status = "Waiting for a free slot (other sessions are computing)..."
            else:
                self.progress = job.fraction
            return True
        self.job = None
        if job.cancelled:
            self.param.update(
                running=False, progress=0.0, status="Cancelled; the previous result (if any) is kept."
            )
        elif job.error:
            self.param.update(
                running=False, progress=0.0, status="", error=f"{self.task_name} failed: {job.error}"
            )
        else:
            self._finish(job)
        return False

    def run_and_wait(self, timeout: float | None = None) -> bool:
        """Start, wait and poll: the synchronous path (tests, notebooks). False when refused."""
        if not self.start():
            return False
        self.job.join(timeout)
        self.poll()
        return True

    def start(self) -> bool:  # pragma: no cover - every subclass defines it
        raise NotImplementedError
