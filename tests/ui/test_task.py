"""BackgroundTask: refusal, success, failure and cancel paths with a trivial job."""

import threading

import param

from climviz.ui.jobs import env_cap
from climviz.ui.task import BackgroundTask


class Square(BackgroundTask):
    task_name = "Squaring"
    x = param.Integer(default=3)
    result = param.Integer(default=None, allow_None=True)

    def __init__(self, gate=None, **params):
        super().__init__(**params)
        self.gate = gate

    def check_request(self):
        return "x must be positive" if self.x <= 0 else ""

    def start(self):
        if self._refuse():
            return False
        x, gate = self.x, self.gate

        def work(report):
            for i in range(4):
                if gate is not None:
                    gate.wait(5)
                report(i + 1, 4)
            if x == 13:
                raise RuntimeError("unlucky")
            return x * x

        return self._launch(work, f"squaring {x}")

    def _finish(self, job):
        self.param.update(result=job.result, running=False, progress=1.0, status="done")


def test_success_sets_result_and_status():
    t = Square(x=7)
    assert t.run_and_wait(10)
    assert (t.result, t.running, t.progress, t.error) == (49, False, 1.0, "")


def test_refusal_leaves_no_job_and_says_why():
    t = Square(x=-1)
    assert not t.run_and_wait(10)
    assert t.error == "x must be positive" and t.job is None and not t.running


def test_failure_becomes_a_message_not_an_exception():
    t = Square(x=13)
    assert t.run_and_wait(10)
    assert t.error == "Squaring failed: RuntimeError: unlucky" and t.result is None and not t.running


def test_second_start_refused_while_running_and_cancel_keeps_old_result():
    gate = threading.Event()
    t = Square(gate=gate, x=2, result=4)
    assert t.start()
    assert not t.start() and "already running" in t.error
    t.cancel()
    gate.set()
    t.job.join(10)
    assert t.poll() is False
    assert t.result == 4 and not t.running and t.status.startswith("Cancelled")


def test_env_cap(monkeypatch):
    monkeypatch.setenv("CLIMVIZ_TEST_CAP", "17")
    assert env_cap("CLIMVIZ_TEST_CAP", 5) == 17
    monkeypatch.setenv("CLIMVIZ_TEST_CAP", "lots")
    assert env_cap("CLIMVIZ_TEST_CAP", 5) == 5
