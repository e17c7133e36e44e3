"""Serving the dashboard to headless Debian Chromium (Playwright, system browser; never
`playwright install`): the helpers every browser test uses. The fixtures that serve ``app.py``
with tiny models and launch the browser are in ``conftest.py`` (``app_url``, ``browser``).
"""

import os
import socket
import time
from pathlib import Path

import pytest

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
TIMEOUT_MS = 120_000


def need_browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CLIMVIZ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and CLIMVIZ_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_page(browser, url, errors, viewport=(1500, 1100), ready="Generate"):
    """A new page at ``url``, collecting console errors, once the button ``ready`` is shown."""
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(url, timeout=TIMEOUT_MS)
    page.get_by_role("button", name=ready, exact=True).wait_for(timeout=TIMEOUT_MS)
    return page


def wait_canvases(page, n: int, timeout_s: float = TIMEOUT_MS / 1000):
    """Wait until ``n`` Bokeh canvases are attached (they live in shadow roots, which locators pierce)."""
    end = time.time() + timeout_s
    while page.locator("canvas").count() < n:
        if time.time() > end:
            raise AssertionError(f"fewer than {n} plots after {timeout_s} s")
        page.wait_for_timeout(250)


def ask(page, members: int, steps: int, region: str, seed: int = 0):
    for label, value in (("Members to generate", members), ("Sampler steps", steps), ("Seed", seed)):
        box = page.get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Enter")
    page.get_by_label("Region", exact=True).first.select_option(region)
    page.wait_for_timeout(300)


PLOT_RANGES = """() => {
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
