"""The ensemble tab's point inspection and animation in headless Chromium: tap a map, see the
point's series; press play, see the months advance (served ``app.py`` with tiny models)."""

import time

import pytest
from browser_support import TIMEOUT_MS, ask, open_page, wait_canvases

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("kill_servers")]

N_MEMBERS = 3
N_TRUE = 15  # EnsembleResults.n_reference by default

# Where, in the page's CSS pixels, the data point (x, y) of the plot whose title starts with
# ``prefix`` is drawn: the plot's box on the page plus its frame (the data area) and ranges.
_DATA_TO_PAGE = """([prefix, x, y]) => {
    const view = window.Bokeh.index.query_one(
        (v) => v.model.title != null && typeof v.model.title.text === "string" && v.model.title.text.startsWith(prefix)
    );
    if (view == null) return null;
    const r = view.el.getBoundingClientRect();
    const f = view.frame.bbox, xr = view.model.x_range, yr = view.model.y_range;
    return {
        x: r.left + f.left + (x - xr.start) / (xr.end - xr.start) * f.width,
        y: r.top + f.top + (yr.end - y) / (yr.end - yr.start) * f.height,
        width: f.width,
    };
}"""

# The number of Line glyphs in each plot whose title starts with ``prefix``.
_LINES = """(prefix) => {
    const out = [];
    for (const doc of window.Bokeh.documents) {
        for (const m of doc.all_models) {
            if (m.renderers && m.title && typeof m.title.text === "string" && m.title.text.startsWith(prefix)) {
                out.push(m.renderers.filter((r) => r.glyph != null && r.glyph.type === "Line").length);
            }
        }
    }
    return out;
}"""

_TITLES = """(prefix) => {
    const out = [];
    for (const doc of window.Bokeh.documents) {
        for (const m of doc.all_models) {
            if (m.title && typeof m.title.text === "string" && m.title.text.startsWith(prefix)) out.push(m.title.text);
        }
    }
    return out;
}"""


def _wait(page, script, arg, ok, what):
    end = time.time() + TIMEOUT_MS / 1000
    while not ok(value := page.evaluate(script, arg)):
        if time.time() > end:
            raise AssertionError(f"{what}: {value}")
        page.wait_for_timeout(250)
    return value


def test_tap_a_point_then_play_the_months(browser, app_url, tmp_path):
    errors: list[str] = []
    page = open_page(browser, app_url, errors, viewport=(1600, 1000))
    ask(page, members=N_MEMBERS, steps=2, region="Global")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_text(f"Generated {N_MEMBERS} members").wait_for(timeout=TIMEOUT_MS)
    wait_canvases(page, 6)
    page.wait_for_timeout(1000)

    # a tap on the conditioning-run map at 140 E (display x = lon - 180), on the equator
    at = _wait(
        page, _DATA_TO_PAGE, ["Conditioning run", -40.0, 0.0], lambda v: v and v["width"] > 100, "no map"
    )
    page.mouse.click(at["x"], at["y"])
    lines = _wait(page, _LINES, "At ", lambda v: len(v) == 1, "no point series after the tap")
    assert lines == [1 + N_MEMBERS + N_TRUE]  # conditioning run, each generated and each true member
    # the rank histogram is a figure of its own, which may reach the page a moment after the series
    ranks = _wait(page, _TITLES, "Rank histogram at", lambda v: len(v) >= 1, "no rank histogram")
    assert len(ranks) == 1, ranks
    page.screenshot(path=str(tmp_path / "point.png"), full_page=True)

    # play: the month shown advances, then pause
    first = page.evaluate(_TITLES, "Conditioning run, ")
    assert len(first) == 1, first
    page.locator("button.play").first.click()  # the Player's play button (CSS locators pierce shadow roots)
    later = _wait(
        page, _TITLES, "Conditioning run, ", lambda v: v and v != first, "the month did not advance"
    )
    page.locator("button.pause").first.click()
    assert later[0] > first[0]  # "YYYY-MM" labels sort in time
    page.screenshot(path=str(tmp_path / "played.png"), full_page=True)
    page.close()
    assert not errors, errors
