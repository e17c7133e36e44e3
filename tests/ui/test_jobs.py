"""Background jobs: progress, cancel, errors kept in the page, slots shared between sessions."""

import threading

import pytest

from climviz.ui import jobs
from climviz.ui.jobs import Busy, Job, Slots


def _looping(release: threading.Event, n=5):
    def fn(report):
        for i in range(n):
            report(i, n)
            release.wait(5)
        return "done"

    return fn


def test_progress_result_and_cancel():
    go = threading.Event()
    go.set()
    job = Job(_looping(go, 4)).start()
    assert job.join(10) and job.finished_ok and job.result == "done" and job.fraction == 0.75
    stop = threading.Event()
    job = Job(_looping(stop, 1000)).start()
    job.cancel()
    stop.set()
    assert job.join(10) and job.cancelled and job.result is None and not job.finished_ok


def test_errors_become_messages():
    def boom(report):
        raise ValueError("grid mismatch")

    job = Job(boom).start()
    assert job.join(10) and job.error == "ValueError: grid mismatch" and "Traceback" in job.traceback


def test_slots_make_other_sessions_wait():
    slots = Slots(1, 1)
    hold = threading.Event()
    first = Job(_looping(hold, 2), slots=slots).start()
    second = Job(_looping(threading.Event(), 1), slots=slots).start()
    for _ in range(100):
        if first.state == "running":
            break
        threading.Event().wait(0.01)
    assert first.state == "running" and second.state == "waiting"
    second.cancel()  # a waiting job can be cancelled too
    assert second.join(5) and second.cancelled
    hold.set()
    assert first.join(10) and first.finished_ok


def _wait_for(cond, seconds=5.0):
    for _ in range(int(seconds / 0.01)):
        if cond():
            return True
        threading.Event().wait(0.01)
    return cond()


def test_a_full_queue_refuses_at_once_and_frees_as_jobs_leave():
    slots = Slots(1, 2)
    hold = threading.Event()
    running = Job(_looping(hold, 2), slots=slots).start()
    assert _wait_for(lambda: running.state == "running")
    waiting = [Job(_looping(hold, 1), slots=slots).start() for _ in range(2)]
    assert slots.waiting == 2 and all(j.state == "waiting" for j in waiting)
    with pytest.raises(Busy, match="1 computations are running and 2 are waiting"):
        Job(_looping(hold, 1), slots=slots).start()
    waiting[0].cancel()  # a cancelled waiter leaves the queue
    assert waiting[0].join(5) and slots.waiting == 1 and slots.active == 2
    extra = Job(_looping(hold, 1), slots=slots).start()
    hold.set()
    assert all(j.join(10) and j.finished_ok for j in (running, waiting[1], extra))
    assert slots.waiting == 0


def test_a_busy_server_is_a_message_in_the_page(monkeypatch):
    from test_task import Square

    monkeypatch.setattr(jobs, "SLOTS", Slots(1, 0))
    gate = threading.Event()
    first = Square(gate=gate, x=2)
    assert first.start()
    assert _wait_for(lambda: first.job.state == "running")
    second = Square(x=3)
    assert not second.start()
    assert "The server is busy" in second.error and not second.running and second.job is None
    gate.set()
    first.job.join(10)
    first.poll()
    assert first.result == 4
