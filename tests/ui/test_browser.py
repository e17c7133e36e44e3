"""The served dashboard in headless Debian Chromium (Playwright, system browser; never `playwright install`).

``app.py`` is served by ``panel serve`` in a subprocess on a free port (the ``app_url`` fixture),
with ``CLIMVIZ_MODEL_DIR`` pointing at tiny models trained in a fixture. Skipped when
``/usr/bin/chromium`` is missing, unless ``CLIMVIZ_REQUIRE_BROWSER=1``.
"""

import time

import pytest
from browser_support import PLOT_RANGES, TIMEOUT_MS, ask, open_page, wait_canvases

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("kill_servers")]


def _check_enso_maps_keep_their_own_zoom(page):
    """The ENSO tab's EOF maps show the tropical Pacific on their own axes: not linked to the global
    maps' ranges (a Panel ``linked_axes`` bug once zoomed them out to the globe)."""
    page.get_by_text("ENSO", exact=True).click()
    end = time.time() + TIMEOUT_MS / 1000
    while True:
        plots = page.evaluate(PLOT_RANGES)
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
    page = open_page(browser, app_url, errors)
    ask(page, members=4, steps=3, region="Nino3.4")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_text("Generated 4 members").wait_for(timeout=TIMEOUT_MS)
    wait_canvases(page, 5)
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
    a, b = open_page(browser, app_url, errors), open_page(browser, app_url, errors)
    ask(a, members=2, steps=2, region="Global", seed=1)
    ask(b, members=3, steps=2, region="Europe", seed=2)
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
    page = open_page(browser, app_url, errors, viewport=(1600, 1000))
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
