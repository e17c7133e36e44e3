"""A shared link and the downscaling player, in the served dashboard (headless Debian Chromium).

A generated ensemble's URL, opened in a second page, shows the same settings and makes the same
ensemble again (same seed, same members: the same scores); the downscaling frames play and stop.
"""

import re
import time

import pytest
from browser_support import TIMEOUT_MS, ask, open_page, wait_canvases

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("kill_servers")]

SETTINGS = ("Members to generate", "Sampler steps", "Seed")


def _generated(page, members: int) -> str:
    """The status line of a generation, less its wall time."""
    line = page.get_by_text(f"Generated {members} members").inner_text()
    return re.sub(r" in [0-9.]+ s", "", line)


def _scores(page) -> str:
    page.get_by_text("Scores", exact=True).click()
    table = page.locator("table").filter(has_text="spread ratio (generated / true)")
    table.wait_for(timeout=TIMEOUT_MS)
    return table.inner_text()


def _wait_for_url(page, needle: str) -> None:
    end = time.time() + TIMEOUT_MS / 1000
    while needle not in page.url:
        assert time.time() < end, f"{needle!r} never in {page.url}"
        page.wait_for_timeout(250)


def test_a_copied_link_reopens_the_view_and_makes_the_same_ensemble(browser, app_url, tmp_path):
    errors: list[str] = []
    page = open_page(browser, app_url, errors, viewport=(1600, 1000))
    ask(page, members=3, steps=2, region="Europe", seed=5)
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_text("Generated 3 members").wait_for(timeout=TIMEOUT_MS)
    _wait_for_url(page, "run=1")
    link = page.url
    for part in ("n=3", "steps=2", "seed=5", "region=Europe", "run=1"):
        assert part in link, link
    status, scores = _generated(page, 3), _scores(page)
    values = [page.get_by_label(label, exact=True).input_value() for label in SETTINGS]

    again = open_page(browser, link, errors, viewport=(1600, 1000))
    assert [again.get_by_label(label, exact=True).input_value() for label in SETTINGS] == values
    assert again.get_by_label("Region", exact=True).first.input_value() == "Europe"
    again.get_by_text("Generated 3 members").wait_for(timeout=TIMEOUT_MS)  # made on load
    assert _generated(again, 3) == status and "seed 5" in status
    assert _scores(again) == scores  # the same ensemble
    again.get_by_text("Maps", exact=True).click()
    wait_canvases(again, 5)
    again.wait_for_timeout(1000)
    again.screenshot(path=str(tmp_path / "shared_link_opened.png"))
    page.close()
    again.close()
    assert not errors, errors


def test_a_link_with_bad_values_opens_the_page_and_says_what_it_fixed(browser, app_url):
    errors: list[str] = []
    page = open_page(browser, f"{app_url}?n=lots&steps=9999&sampler=nope&tab=1", errors, ready="Downscale")
    page.get_by_text("Some settings of the link were fixed").wait_for(timeout=TIMEOUT_MS)
    page.close()
    assert not errors, errors


def _frame(page) -> int:
    label = page.get_by_text(re.compile(r"Frame \(6-hourly\).*: \d+")).first.inner_text()
    return int(label.rsplit(":", 1)[1])


def test_the_downscaled_frames_play_and_stop(browser, app_url, tmp_path):
    errors: list[str] = []
    url = f"{app_url}?tab=1&ds_frames=4&ds_steps=2&ds_n=1"
    page = open_page(browser, url, errors, viewport=(1600, 1000), ready="Downscale")
    page.get_by_role("button", name="Downscale", exact=True).click()
    page.get_by_text("Downscaled 4 frames").wait_for(timeout=TIMEOUT_MS)
    wait_canvases(page, 5)
    assert _frame(page) == 0
    page.locator("button.play").click()
    seen, end = set(), time.time() + 30
    while len(seen) < 3 and time.time() < end:
        seen.add(_frame(page))
        page.wait_for_timeout(200)
    assert len(seen) >= 3, seen  # the frames advance
    page.locator("button.pause").click()
    page.wait_for_timeout(1500)
    stopped = _frame(page)
    page.wait_for_timeout(2500)
    assert _frame(page) == stopped  # and stop
    assert f"frame={stopped}" in page.url or stopped == 0
    page.screenshot(path=str(tmp_path / "downscaling_paused.png"))
    page.close()
    assert not errors, errors
