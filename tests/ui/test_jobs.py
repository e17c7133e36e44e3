"""Background jobs: progress, cancel, errors kept in the page, slots shared between sessions."""

import threading

from climviz.ui.jobs import Job


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
    slots = threading.BoundedSemaphore(1)
    hold = threading.Event()
    first = Job(_looping(hold, 2), slots=slots).start()
    second = Job(_looping(threading.Event(), 1), slots=slots).start()
    for _ in range(100):
        if first.state == "running":
            break
        threading.Event().wait(0.01)
    assert first.state == "running" and second.state == "waiting"
    second.cancel()                 # a waiting job can be cancelled too
    assert second.join(5) and second.cancelled
    hold.set()
    assert first.join(10) and first.finished_ok
