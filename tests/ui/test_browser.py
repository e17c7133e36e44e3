"""The served dashboard in headless Debian Chromium (Playwright, system browser; never `playwright install`).

``app.py`` is served by ``panel serve`` in a subprocess on a free port, with
``CLIMVIZ_MODEL_DIR`` pointing at tiny models trained in a fixture. Skipped
when ``/usr/bin/chromium`` is missing, unless ``CLIMVIZ_REQUIRE_BROWSER=1``.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

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
REPO = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 120_000


def _need_browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CLIMVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and CLIMVIZ_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _kill_servers():
    yield
    import panel as pn

    pn.state.kill_all_servers()


@pytest.fixture(scope="module")
def app_url(tiny_model_root, tmp_path_factory):
    _need_browser()
    port = _free_port()
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
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _open(browser, url, errors, viewport=(1500, 1100)):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(url, timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Generate", exact=True).wait_for(timeout=TIMEOUT_MS)
    return page


def _wait_canvases(page, n: int, timeout_s: float = TIMEOUT_MS / 1000):
    """Wait until ``n`` Bokeh canvases are attached (they live in shadow roots, which locators pierce)."""
    end = time.time() + timeout_s
    while page.locator("canvas").count() < n:
        if time.time() > end:
            raise AssertionError(f"fewer than {n} plots after {timeout_s} s")
        page.wait_for_timeout(250)


def _ask(page, members: int, steps: int, region: str, seed: int = 0):
    for label, value in (("Members to generate", members), ("Sampler steps", steps), ("Seed", seed)):
        box = page.get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Enter")
    page.get_by_label("Region", exact=True).first.select_option(region)
    page.wait_for_timeout(300)


_PLOT_RANGES = """() => {
    const out = [];
    for (const doc of window.Bokeh.documents) {
        for (const m of doc.all_models) {
            if (m.x_range && m.title && typeof m.title.text === "string") {
                out.push({title: m.title.text, range: m.x_range.id, x0: m.x_range.start, x1: m.x_range.end});
            }
        }
    }
    return out;
}"""


def _check_enso_maps_keep_their_own_zoom(page):
    """The ENSO tab's EOF maps show the tropical Pacific on their own axes: not linked to the global
    maps' ranges (a Panel ``linked_axes`` bug once zoomed them out to the globe)."""
    page.get_by_text("ENSO", exact=True).click()
    end = time.time() + TIMEOUT_MS / 1000
    while True:
        plots = page.evaluate(_PLOT_RANGES)
        eofs = [p for p in plots if p["title"].startswith("Leading EOF")]
        if len(eofs) == 2 or time.time() > end:
            break
        page.wait_for_timeout(250)
    assert len(eofs) == 2, [p["title"] for p in plots]
    maps = [
        p for p in plots if p["title"].startswith(("Conditioning run", "Generated member", "Generated mean"))
    ]
    assert len(maps) == 3, [p["title"] for p in plots]
    width = max(m["x1"] - m["x0"] for m in maps)
    for e in eofs:
        assert e["range"] not in {m["range"] for m in maps}, e
        assert 0.2 * width < e["x1"] - e["x0"] < 0.6 * width, (e, maps)  # 170 of 360 degrees of longitude


def test_generate_in_the_browser(browser, app_url, tmp_path):
    errors: list[str] = []
    page = _open(browser, app_url, errors)
    _ask(page, members=4, steps=3, region="Nino3.4")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_text("Generated 4 members").wait_for(timeout=TIMEOUT_MS)
    _wait_canvases(page, 5)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "ensemble_maps.png"), full_page=True)
    _check_enso_maps_keep_their_own_zoom(page)
    page.get_by_text("Scores", exact=True).click()
    page.get_by_text("spread ratio (generated / true)").wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("score (Nino3.4, whole period)").wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(tmp_path / "ensemble_scores.png"), full_page=True)
    page.close()
    assert not errors, errors


def test_two_sessions_get_their_own_results(browser, app_url, tmp_path):
    errors: list[str] = []
    a, b = _open(browser, app_url, errors), _open(browser, app_url, errors)
    _ask(a, members=2, steps=2, region="Global", seed=1)
    _ask(b, members=3, steps=2, region="Europe", seed=2)
    a.get_by_role("button", name="Generate", exact=True).click()
    b.get_by_role("button", name="Generate", exact=True).click()
    a.get_by_text("Generated 2 members").wait_for(timeout=TIMEOUT_MS)
    b.get_by_text("Generated 3 members").wait_for(timeout=TIMEOUT_MS)
    assert "seed 1" in a.get_by_text("Generated 2 members").inner_text()
    assert "seed 2" in b.get_by_text("Generated 3 members").inner_text()
    assert (
        a.get_by_text("Generated 3 members").count() == 0
        and b.get_by_text("Generated 2 members").count() == 0
    )
    a.screenshot(path=str(tmp_path / "session_a.png"), full_page=True)
    b.screenshot(path=str(tmp_path / "session_b.png"), full_page=True)
    a.close()
    b.close()
    assert not errors, errors


_PLOT_BOX = """(prefix) => {
    const view = window.Bokeh.index.query_one(
        (v) => v.model.title != null && typeof v.model.title.text === "string" && v.model.title.text.startsWith(prefix)
    );
    if (view == null) return null;
    const r = view.el.getBoundingClientRect();
    return {width: r.width, height: r.height};
}"""


def test_the_first_ensemble_map_uses_the_page(browser, app_url, tmp_path):
    """At 1600x1000 the conditioning-run map fills its half of the views (it was 190 px wide once)."""
    errors: list[str] = []
    page = _open(browser, app_url, errors, viewport=(1600, 1000))
    end = time.time() + TIMEOUT_MS / 1000
    while (box := page.evaluate(_PLOT_BOX, "Conditioning run")) is None or box["height"] < 10:
        if time.time() > end:
            raise AssertionError(f"no conditioning-run map drawn: {box}")
        page.wait_for_timeout(250)
    page.screenshot(path=str(tmp_path / "first_map.png"))
    page.close()
    assert box["width"] >= 600, box
    assert 0.4 * box["width"] <= box["height"] <= 0.7 * box["width"], box  # a global map, not a strip
    assert not errors, errors
