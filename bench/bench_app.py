"""Dashboard timings: first render and generation (printed, not asserted).

    OMP_NUM_THREADS=1 python bench/bench_app.py [--model-dir models] [--browser]

Uses the models under ``--model-dir`` (default ``$CLIMVIZ_MODEL_DIR`` or ``models/``); when the
ensemble generator is missing there, tiny models are trained into a temporary directory first
(the numbers are then only about the app's own overhead). ``--browser`` also serves ``app.py``
and times the first render and a generation in headless Chromium.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
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


def in_process(root: Path) -> None:
    import torch

    torch.set_num_threads(1)
    t = time.perf_counter()
    import panel as pn

    from climviz.ui.downscaling import Downscaling
    from climviz.ui.generation import EnsembleGeneration
    from climviz.ui.pages import downscaling_page, ensemble_page
    from climviz.ui.sources import load_downscalers, load_generator
    print(f"imports                         {time.perf_counter() - t:7.2f} s")
    t = time.perf_counter()
    gen, note = load_generator(root)
    td, base, dnote = load_downscalers(root)
    print(f"load models                     {time.perf_counter() - t:7.2f} s   {note or 'ensemble ok'} "
          f"{dnote or '/ downscalers ok'}")
    state = EnsembleGeneration(gen, note)
    t = time.perf_counter()
    ensemble_page(state).get_root()
    print(f"ensemble tab first render (server side) {time.perf_counter() - t:7.2f} s")
    if gen is not None:
        req = (f"{state.n_members} members x {state.n_months()} months x {state.steps} steps "
               f"({state.mode}, {state.start_year}-{state.end_year}, {gen.device})")
        t = time.perf_counter()
        state.start()
        state.job.join()
        t_job = time.perf_counter() - t
        t = time.perf_counter()
        state.poll()
        print(f"generation job                  {t_job:7.2f} s   {req}")
        print(f"re-render after generation      {time.perf_counter() - t:7.2f} s   {state.error}")
    if td is not None:
        ds = Downscaling(td, base, dnote)
        t = time.perf_counter()
        downscaling_page(ds).get_root()
        print(f"downscaling tab first render    {time.perf_counter() - t:7.2f} s")
        t = time.perf_counter()
        ds.run()
        print(f"downscaling job                 {time.perf_counter() - t:7.2f} s   {ds.status} {ds.error} "
              f"(incl. simulating the case the first time)")
        for r in ds.timings():
            print(f"   {r['model']:8s} {r['stage']:10s} {r['seconds']:7.2f} s")
    pn.state.kill_all_servers()


def in_browser(root: Path) -> None:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(REPO / "tests" / "ui"))
    from test_browser import CHROMIUM, FLAGS, _wait_canvases

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CLIMVIZ_MODEL_DIR": str(root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "panel", "serve", "app.py", "--port", str(port), "--address",
                             "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for label in ("cold", "warm"):
                page = b.new_page(viewport={"width": 1500, "height": 1100})
                t = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/app", timeout=300_000)
                _wait_canvases(page, 5, 300)
                print(f"browser first render ({label})     {time.perf_counter() - t:7.2f} s")
                t = time.perf_counter()
                page.get_by_role("button", name="Generate", exact=True).click()
                page.get_by_text("Generated ").first.wait_for(timeout=600_000)
                print(f"browser click-to-result ({label})  {time.perf_counter() - t:7.2f} s")
                page.close()
            b.close()
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--browser", action="store_true")
    args = ap.parse_args()
    from climviz.ui.sources import model_root

    root = Path(args.model_dir) if args.model_dir else model_root()
    if not (root / "ensemble" / "vae").is_dir():
        print(f"{root}/ensemble missing: training tiny models for the benchmark")
        root = _tiny_root()
    print(f"models: {root}")
    in_process(root)
    if args.browser:
        in_browser(root)


if __name__ == "__main__":
    main()
