"""Dashboard timings: pages in seconds, first render and generation (printed, not asserted).

    OMP_NUM_THREADS=1 python bench/bench_app.py [--model-dir models] [--browser | --browser-only]

Uses the models under ``--model-dir`` (default ``$CLIMVIZ_MODEL_DIR`` or ``models/``); when the
ensemble generator is missing there, tiny models are trained into a temporary directory first
(the numbers are then only about the app's own overhead). In process: imports, model loading,
what a new session of ``app.py`` costs the server (building it, then what it draws once the page
has loaded), a generation, then the latency of interactions against <= 300 ms (server side, until
the watchers finish; median of 5): a tap on an ensemble map, a month step of the Player, a frame
step of the downscaling page.

``--browser`` also serves ``app.py`` as ``make serve`` does (``SERVE_FLAGS`` of the Makefile) and
opens pages in headless Chromium (the system browser; never ``playwright install``). For each page
it times when the Generate button is clickable and when the server answers a change (the work
estimate follows a new member count), against the goals: (a) the first page <= 5 s after the
server prints that it is running, (b) every later page <= 2 s (median; new tabs of one browser),
(c) 10 pages opened at once, each in its own browser profile like separate users, all within 20 s
(the browser shares this machine's CPUs with the server); then a generation from the click to the
result."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _tiny_root() -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    import tiny_checkpoints

    return tiny_checkpoints.build(Path(tempfile.mkdtemp()) / "models")


def app_sessions(root: Path, n: int = 3) -> None:
    """Server-side cost of new sessions of ``app.py``: building the document, then what it draws once
    the page has loaded (the first session also prepares what the process shares)."""
    import panel as pn
    from bokeh.command.util import build_single_handler_application
    from panel.io.session import generate_session
    from panel.io.state import set_curdoc

    from climviz.ui.sources import MODEL_DIR_ENV

    os.environ[MODEL_DIR_ENV] = str(root)
    app = build_single_handler_application(str(REPO / "app.py"))
    for k in range(n):
        t = time.perf_counter()
        session = generate_session(app)
        built = time.perf_counter() - t
        with set_curdoc(session.document):
            pn.state._on_load(None)  # what `panel serve` runs when the browser says the page loaded
        print(
            f"app.py session {k + 1} (server side)      {built:7.2f} s built, "
            f"{time.perf_counter() - t - built:5.2f} s drawn after load"
            + ("   (prepares the shared data)" if k == 0 else "")
        )


LATENCY_GOAL_S = 0.3  # a tap or a month step, until the watchers have updated every pane


def _median_s(actions) -> float:
    """Median seconds of the calls in ``actions`` (each returns once its watchers have run)."""
    times = []
    for act in actions:
        t = time.perf_counter()
        act()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _latency_line(name: str, seconds: float, n: int) -> str:
    verdict = "met" if seconds <= LATENCY_GOAL_S else "MISSED"
    return f"{name:32s}{seconds * 1000:7.0f} ms  median of {n}   {verdict} (goal <= {LATENCY_GOAL_S * 1000:.0f} ms)"


def ensemble_latency(views, n: int = 5) -> None:
    """Server-side time of a tap on a map (what a tap calls) and of a month step (what the Player
    sets), on the rendered views of a session with a result, until every watcher has finished."""
    taps = [(-40.0 + 25 * k, -30.0 + 12 * k) for k in range(n)]
    t_tap = _median_s([lambda xy=xy: views.maps.on_tap(*xy) for xy in taps])
    months = views.player.end + 1
    t_month = _median_s([lambda k=k: setattr(views.player, "value", (k + 1) % months) for k in range(n)])
    print(_latency_line("tap a map (point views, rings)", t_tap, n))
    print(_latency_line("month step (Player)", t_month, n))


def downscaling_latency(ds, n: int = 5) -> None:
    """Server-side time of a frame change of the downscaling page (what its Player will set)."""
    frames = ds.param.time.bounds[1] + 1
    t = _median_s([lambda k=k: setattr(ds, "time", (k + 1) % frames) for k in range(n)])
    print(_latency_line("downscaling frame step", t, n))


def in_process(root: Path) -> None:
    import torch

    torch.set_num_threads(1)
    t = time.perf_counter()
    import panel as pn

    from climviz.ui.downscaling import Downscaling
    from climviz.ui.generation import EnsembleGeneration
    from climviz.ui.pages import DownscalingPage, EnsemblePage, EnsembleViews
    from climviz.ui.sources import load_downscalers, load_generator

    print(f"imports                         {time.perf_counter() - t:7.2f} s")
    t = time.perf_counter()
    gen, note = load_generator(root)
    td, base, dnote = load_downscalers(root)
    print(
        f"load models                     {time.perf_counter() - t:7.2f} s   {note or 'ensemble ok'} "
        f"{dnote or '/ downscalers ok'}"
    )
    app_sessions(root)
    state = EnsembleGeneration(gen, note)
    t = time.perf_counter()
    EnsemblePage(state).__panel__().get_root()
    views = EnsembleViews(request=state.request, results=state.results)
    views.__panel__().get_root()  # what comes after load
    print(f"ensemble tab first render (server side) {time.perf_counter() - t:7.2f} s")
    if gen is not None:
        r = state.request
        req = (
            f"{r.n_members} members x {r.n_months()} months x {r.steps} steps "
            f"({r.mode}, {r.start_year}-{r.end_year}, {gen.device})"
        )
        t = time.perf_counter()
        state.start()
        state.job.join()
        t_job = time.perf_counter() - t
        t = time.perf_counter()
        state.poll()
        print(f"generation job                  {t_job:7.2f} s   {req}")
        print(f"re-render after generation      {time.perf_counter() - t:7.2f} s   {state.error}")
        ensemble_latency(views)
    if td is not None:
        ds = Downscaling(td, base, dnote)
        t = time.perf_counter()
        DownscalingPage(ds).__panel__().get_root()
        print(f"downscaling tab first render    {time.perf_counter() - t:7.2f} s")
        t = time.perf_counter()
        ds.run()
        print(
            f"downscaling job                 {time.perf_counter() - t:7.2f} s   {ds.status} {ds.error} "
            f"(incl. simulating the case the first time)"
        )
        for r in ds.timings():
            print(f"   {r['model']:8s} {r['stage']:10s} {r['seconds']:7.2f} s")
        downscaling_latency(ds)
    pn.state.kill_all_servers()


GOALS = {"first": 5.0, "later": 2.0, "burst": 20.0}  # seconds: first page, each later page, 10 pages at once
RUNNING = "Bokeh app running at"  # what `panel serve` prints once it listens


def serve_flags() -> list[str]:
    """The extra ``panel serve`` flags of ``make serve`` (``SERVE_FLAGS`` in the Makefile)."""
    for line in (REPO / "Makefile").read_text().splitlines():
        m = re.match(r"SERVE_FLAGS\s*[:?]?=\s*(.*)", line)
        if m:
            return shlex.split(m.group(1))
    return []


async def _interactive(page, url: str, timeout_s: float) -> tuple[float, float]:
    """Open ``url``; seconds until the Generate button is clickable, and until the server answers
    a change (the work estimate follows a new member count): the page is usable."""
    t = time.perf_counter()
    await page.goto(url, timeout=timeout_s * 1000)
    await page.get_by_role("button", name="Generate", exact=True).click(trial=True, timeout=timeout_s * 1000)
    t_button = time.perf_counter() - t
    box = page.get_by_label("Members to generate", exact=True)
    await box.fill("7")
    await box.press("Enter")
    await page.get_by_text("Work: 7 members").wait_for(timeout=timeout_s * 1000)
    return t_button, time.perf_counter() - t


def _verdict(name: str, times: list[tuple[float, float]], pick, goal: float) -> str:
    """One line: ``pick`` (median or max) of the clickable and the answering times against ``goal``."""
    button, usable = pick([t for t, _ in times]), pick([u for _, u in times])
    said = [f"{x:6.2f} s {'met' if x <= goal else 'MISSED':6s}" for x in (button, usable)]
    return f"{name:38s} {said[0]}   {said[1]}   <= {goal:4.1f} s"


async def _browser_timings(root: Path, later: int, burst: int) -> None:
    from playwright.async_api import async_playwright

    sys.path.insert(0, str(REPO / "tests" / "ui"))
    from test_browser import CHROMIUM, FLAGS

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/app"
    env = {**os.environ, "CLIMVIZ_MODEL_DIR": str(root), "OMP_NUM_THREADS": "1"}
    flags = serve_flags()
    print(
        f"serving: panel serve app.py {' '.join(flags)} (SERVE_FLAGS of the Makefile); {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)  # before the clock starts
        t0 = time.perf_counter()
        drain = None
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "panel",
            "serve",
            "app.py",
            *flags,
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--allow-websocket-origin",
            f"127.0.0.1:{port}",
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            while RUNNING not in (line := (await proc.stderr.readline()).decode()):
                if not line:
                    raise RuntimeError("panel serve exited before it was running")
            drain = asyncio.ensure_future(_drain(proc.stderr))
            t_run = time.perf_counter()
            print(f"server start-up (until '{RUNNING}')   {t_run - t0:7.2f} s")
            ctx = await b.new_context(viewport={"width": 1500, "height": 1100})
            page = await ctx.new_page()
            button, usable = await _interactive(page, url, 300)
            lag = time.perf_counter() - t_run - usable  # from 'running' to the request
            first = [(button + lag, usable + lag)]
            await page.close()
            times = []
            for _ in range(later):
                page = await ctx.new_page()
                times.append(await _interactive(page, url, 300))
                await page.close()
            users = [await b.new_context(viewport={"width": 1500, "height": 1100}) for _ in range(burst)]
            pages = [await u.new_page() for u in users]  # one browser profile each, as separate users
            t = time.perf_counter()
            together = await asyncio.gather(*[_interactive(pg, url, 300) for pg in pages])
            print(f"{'goal (seconds)':38s} {'Generate clickable':17s}   {'server answers':17s}")
            print(_verdict("(a) first page, from 'running'", first, max, GOALS["first"]))
            print(_verdict(f"(b) later pages, median of {later}", times, statistics.median, GOALS["later"]))
            print(_verdict(f"(c) {burst} pages at once, the last", together, max, GOALS["burst"]))
            print(
                f"    ({burst} at once: median {statistics.median(u for _, u in together):.2f} s to answer, "
                f"all answered {time.perf_counter() - t:.2f} s after the first request)"
            )
            for u in users[1:]:
                await u.close()
            page = pages[0]
            t = time.perf_counter()
            await page.get_by_role("button", name="Generate", exact=True).click()
            await page.get_by_text("Generated 7 members").wait_for(timeout=600_000)
            print(f"browser click-to-result (7 members)     {time.perf_counter() - t:7.2f} s")
            await users[0].close()
            await ctx.close()
            await b.close()
        finally:
            proc.terminate()
            await proc.wait()
            if drain is not None:
                drain.cancel()


async def _drain(stream) -> None:
    while await stream.readline():
        pass


def in_browser(root: Path, later: int = 5, burst: int = 10) -> None:
    asyncio.run(_browser_timings(root, later, burst))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--browser", action="store_true", help="also time pages in headless Chromium")
    ap.add_argument("--browser-only", action="store_true", help="only the headless Chromium timings")
    args = ap.parse_args()
    from climviz.ui.sources import model_root

    root = Path(args.model_dir) if args.model_dir else model_root()
    if not (root / "ensemble" / "vae").is_dir():
        print(f"{root}/ensemble missing: training tiny models for the benchmark")
        root = _tiny_root()
    print(f"models: {root}")
    if not args.browser_only:
        in_process(root)
    if args.browser or args.browser_only:
        in_browser(root)


if __name__ == "__main__":
    main()
