"""Load test of the dashboard: N browser sessions press Generate at the same moment.

    OMP_NUM_THREADS=1 python bench/load_test.py [-n 8] [--max-jobs 2] [--max-queue 2] [--refuse-every 4]
                                                 [--model-dir models] [--json out.json]

Serves ``app.py`` with ``panel serve`` on 127.0.0.1 (a free port) with
``CLIMVIZ_MAX_JOBS`` and ``CLIMVIZ_MAX_QUEUE`` set low, opens ``n`` pages at once in one headless
Chromium (Playwright, the system browser; never ``playwright install``), sets a
small request in each (``--members`` 4, 1990-1991, ``--steps`` 100; every ``refuse-every``-th
session instead asks for 50 members x 200 steps, over ``CLIMVIZ_MAX_WORK``) and
clicks Generate in all of them together. Records per session: the outcome
(completed, refused with the cap message visible in the page, refused as
"server busy" with the message visible, failed, timed out), whether it was told to wait for a free slot, and seconds from the click;
for the server: whether it is still alive and answering, and its peak resident
memory (psutil, sampled every 0.2 s, the server process and its children).
Prints a table (and writes JSON with ``--json``); exits 1 unless every session
completed or was refused with the message visible and the server still answers.

Beyond ``CLIMVIZ_MAX_JOBS`` a job waits for a free slot and its page says so
("told to wait"); beyond ``CLIMVIZ_MAX_JOBS + CLIMVIZ_MAX_QUEUE`` it is refused
at once ("The server is busy"); a request over ``CLIMVIZ_MAX_WORK`` is refused
before that. One
page is rendered server-side before the sessions start, so models and caches
are loaded (its time is reported as the cold first page).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OVER_CAP = {"Members to generate": 50, "Sampler steps": 200, "Start year": 1980, "End year": 1999}
REFUSAL = "over this server's cap"  # the polite refusal of CLIMVIZ_MAX_WORK (climviz.ui.generation)
WAITING = "Waiting for a free slot"  # what a session queued behind CLIMVIZ_MAX_JOBS is told (climviz.ui.task)
BUSY = "The server is busy"  # the refusal beyond CLIMVIZ_MAX_QUEUE (climviz.ui.jobs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RssSampler(threading.Thread):
    """Peak resident memory of a process and its children, sampled every ``period`` seconds."""

    def __init__(self, pid: int, period: float = 0.2):
        super().__init__(daemon=True)
        self.proc, self.period, self.peak, self._halt = psutil.Process(pid), period, 0, threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                return
            time.sleep(self.period)

    def stop(self) -> int:
        self._halt.set()
        self.join(2)
        return self.peak


def start_server(port: int, env: dict, log, token_expiration: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "panel",
            "serve",
            "app.py",
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--allow-websocket-origin",
            f"127.0.0.1:{port}",
            "--num-procs",
            "1",
            "--session-token-expiration",
            str(token_expiration),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(480):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"panel serve exited with {proc.returncode}; see {log.name}") from None
            time.sleep(0.25)
    raise RuntimeError("panel serve did not start listening in 120 s")


async def _fill(page, values: dict) -> None:
    for label, value in values.items():
        box = page.get_by_label(label, exact=True)
        await box.fill(str(value))
        await box.press("Enter")
    await page.wait_for_timeout(300)


async def session(
    i: int, browser, url: str, small: dict, over_cap: bool, go: asyncio.Event, ready: list, timeout: float
) -> dict:
    """One user: open the page, set a request, wait for everyone, click Generate, watch the outcome."""
    rec = {
        "session": i,
        "request": "over cap" if over_cap else "small",
        "outcome": "?",
        "waited": False,
        "seconds": None,
        "message": "",
    }
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        t_open = time.perf_counter()
        await page.goto(url, timeout=timeout * 1000)
        button = page.get_by_role("button", name="Generate", exact=True)
        await button.wait_for(timeout=timeout * 1000)
        rec["page_load_s"] = round(time.perf_counter() - t_open, 1)
        await _fill(page, OVER_CAP if over_cap else small)
    except Exception as err:
        rec.update(outcome="page failed", message=f"{type(err).__name__}: {str(err).splitlines()[0]}")
        ready.append(i)
        await go.wait()
        await page.close()
        return rec
    ready.append(i)
    print(f"session {i}: page ready after {rec['page_load_s']} s", file=sys.stderr)
    await go.wait()
    t0 = time.perf_counter()
    try:  # a starved page keeps re-laying out: give the click as long as the session
        await button.click(timeout=timeout * 1000)
    except Exception as err:
        rec.update(outcome="click failed", message=f"{type(err).__name__}: {str(err).splitlines()[0]}")
        await page.close()
        return rec
    done = page.get_by_text(f"Generated {small['Members to generate']} members")
    refused = page.get_by_text(REFUSAL)
    failed = page.get_by_text("Generation failed")
    busy = page.get_by_text(BUSY)
    waiting = page.get_by_text(WAITING)
    while time.perf_counter() - t0 < timeout:
        if not rec["waited"] and await waiting.count() and await waiting.first.is_visible():
            rec["waited"] = True
        if await done.count():
            rec["outcome"] = "completed"
            break
        if await refused.count() and await refused.first.is_visible():
            rec.update(outcome="refused (message visible)", message=(await refused.first.inner_text())[:160])
            break
        if await busy.count() and await busy.first.is_visible():
            rec.update(outcome="busy (message visible)", message=(await busy.first.inner_text())[:160])
            break
        if await failed.count():
            rec.update(outcome="failed", message=(await failed.first.inner_text())[:200])
            break
        await page.wait_for_timeout(250)
    else:
        rec["outcome"] = "timed out"
    rec["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"session {i}: {rec['outcome']} after {rec['seconds']} s", file=sys.stderr)
    if errors:
        rec["page_errors"] = errors[:3]
    await page.close()
    return rec


async def drive(url: str, n: int, small: dict, refuse_every: int, timeout: float) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        go, ready = asyncio.Event(), []
        tasks = [
            asyncio.create_task(
                session(
                    i,
                    browser,
                    url,
                    small,
                    refuse_every > 0 and i % refuse_every == refuse_every - 1,
                    go,
                    ready,
                    timeout,
                )
            )
            for i in range(n)
        ]
        while len(ready) < n:  # every page loaded and filled in (or failed to): click together
            await asyncio.sleep(0.2)
        go.set()
        records = await asyncio.gather(*tasks)
        await browser.close()
    return list(records)


def server_answers(url: str, timeout: float = 120.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except Exception:
        return False


def table(records: list[dict], summary: dict) -> str:
    lines = [
        "| session | request | outcome | told to wait | s after click | page load s |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['session']} | {r['request']} | {r['outcome']} | {'yes' if r['waited'] else 'no'} | "
            f"{r['seconds']} | {r.get('page_load_s', '-')} |"
        )
    lines += ["", "| measure | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary.items()]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--sessions", type=int, default=8)
    ap.add_argument("--max-jobs", type=int, default=2, help="CLIMVIZ_MAX_JOBS of the server (default 2)")
    ap.add_argument("--max-queue", type=int, default=2, help="CLIMVIZ_MAX_QUEUE of the server (default 2)")
    ap.add_argument("--members", type=int, default=4, help="members of the small request (default 4)")
    ap.add_argument(
        "--steps",
        type=int,
        default=100,
        help="sampler steps of the small request (default 100: long enough for jobs to overlap)",
    )
    ap.add_argument(
        "--refuse-every",
        type=int,
        default=4,
        help="every k-th session asks for an over-cap request (0: none; default 4)",
    )
    ap.add_argument("--model-dir", default=None, help="CLIMVIZ_MODEL_DIR (default: the app's, models/)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per session (default 600)")
    ap.add_argument(
        "--token-expiration",
        type=int,
        default=300,
        help="panel serve --session-token-expiration in s (Bokeh's default 300: a page whose "
        "server-side render takes longer never connects)",
    )
    ap.add_argument("--json", default=None, help="write the records and summary here")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # so the server is stopped
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing", file=sys.stderr)
        return 1
    port = _free_port()
    env = {
        **os.environ,
        "CLIMVIZ_MAX_JOBS": str(args.max_jobs),
        "CLIMVIZ_MAX_QUEUE": str(args.max_queue),
        "OMP_NUM_THREADS": "1",
    }
    if args.model_dir:
        env["CLIMVIZ_MODEL_DIR"] = str(Path(args.model_dir).resolve())
    log = tempfile.NamedTemporaryFile("w", prefix="climviz-load-", suffix=".log", delete=False)
    url = f"http://127.0.0.1:{port}/app"
    t_start = time.perf_counter()
    server = start_server(port, env, log, args.token_expiration)
    sampler = RssSampler(server.pid)
    sampler.start()
    try:
        t = time.perf_counter()  # one session rendered server-side first: models and caches load once
        warm = server_answers(url, timeout=args.timeout)
        cold_s = time.perf_counter() - t
        print(f"cold first page (server side): {cold_s:.0f} s, {'ok' if warm else 'FAILED'}", file=sys.stderr)
        small = {
            "Members to generate": args.members,
            "Sampler steps": args.steps,
            "Start year": 1990,
            "End year": 1991,
        }
        records = asyncio.run(drive(url, args.sessions, small, args.refuse_every, args.timeout))
        alive = server.poll() is None
        answers = alive and server_answers(url)
    finally:
        peak = sampler.peak
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        sampler.stop()
        log.close()
    count = lambda key, value: sum(1 for r in records if r[key] == value)  # noqa: E731
    asked = [r for r in records if r["request"] == "small"]
    summary = {
        "sessions": len(records),
        "cold first page, server side (before the sessions)": f"{cold_s:.0f} s",
        "session token expiration": f"{args.token_expiration} s",
        "CLIMVIZ_MAX_JOBS / CLIMVIZ_MAX_QUEUE": f"{args.max_jobs} / {args.max_queue}",
        "small request": f"{args.members} members x 24 months (1990-1991) x {args.steps} steps",
        "small requests completed": f"{count('outcome', 'completed')} of {len(asked)}",
        "small requests refused as server busy, message visible": f"{count('outcome', 'busy (message visible)')} "
        f"of {len(asked)}",
        "over-cap requests refused, message visible": f"{count('outcome', 'refused (message visible)')} of "
        f"{len(records) - len(asked)}",
        "sessions told to wait for a free slot": count("waited", True),
        "failed / timed out / page failed": f"{count('outcome', 'failed')} / {count('outcome', 'timed out')} / "
        f"{count('outcome', 'page failed')}",
        "slowest completed (s after click)": max(
            [r["seconds"] for r in asked if r["outcome"] == "completed"], default="-"
        ),
        "server alive and answering after": "yes" if answers else ("alive, not answering" if alive else "no"),
        "server peak RSS": f"{peak / 2**20:.0f} MiB",
        "wall time": f"{time.perf_counter() - t_start:.0f} s",
        "machine": f"{psutil.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end",
        "server log": log.name,
    }
    print(table(records, summary))
    for r in records:
        if r["message"] or r.get("page_errors"):
            print(f"session {r['session']}: {r['message']} {r.get('page_errors', '')}")
    if args.json:
        Path(args.json).write_text(json.dumps({"records": records, "summary": summary}, indent=1))
    ok = answers and all(
        r["outcome"] in ("completed", "refused (message visible)", "busy (message visible)") for r in records
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
