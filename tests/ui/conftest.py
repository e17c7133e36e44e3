"""Tiny models for the dashboard tests, laid out like ``models/`` (trained in seconds)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))

import tiny_checkpoints  # noqa: E402
from browser_support import free_port, need_browser  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_model_root(tmp_path_factory):
    """``root/ensemble`` (24x48 generator), ``root/taudiff`` and ``root/taudiff-baseline`` (8x16 -> 32x64)."""
    return tiny_checkpoints.build(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def tiny_generator(tiny_model_root):
    from climviz.ui.sources import load_generator

    gen, note = load_generator(tiny_model_root)
    assert gen is not None, note
    return gen


@pytest.fixture(scope="session")
def tiny_downscalers(tiny_model_root):
    from climviz.ui.sources import load_downscalers

    td, base, note = load_downscalers(tiny_model_root)
    assert td is not None and base is not None, note
    return td, base


@pytest.fixture
def kill_servers():
    yield
    import panel as pn

    pn.state.kill_all_servers()


@pytest.fixture(scope="module")
def app_url(tiny_model_root, tmp_path_factory):
    need_browser()
    port = free_port()
    env = {**os.environ, "CLIMVIZ_MODEL_DIR": str(tiny_model_root), "OMP_NUM_THREADS": "1"}
    log = open(tmp_path_factory.mktemp("server") / "panel.log", "w")
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
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/app"
    try:
        for _ in range(240):
            try:  # a bare TCP probe: an HTTP request for the app would render a whole session
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"panel serve exited: {Path(log.name).read_text()[-2000:]}") from None
                time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(app_url):
    from browser_support import CHROMIUM, FLAGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()
