"""Screenshot the served dashboard after one generation, or one downscaling (for the README).

    python tools/screenshot_generated.py http://localhost:5006/app docs/dashboard.png [--tab Maps]
    python tools/screenshot_generated.py http://localhost:5006/app docs/dashboard-downscaling.png \
        --page Downscaling --tab Vorticity
"""

from __future__ import annotations

import argparse

from playwright.sync_api import sync_playwright
from screenshot import CHROMIUM, FLAGS  # tools/screenshot.py: the one place the browser flags live


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("output")
    ap.add_argument(
        "--tab", action="append", default=[], help="inner tab to open and shoot as OUTPUT-<tab>.png"
    )
    ap.add_argument("--page", default=None, help="top tab to open first: Downscaling runs Downscale")
    args = ap.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.goto(args.url, timeout=180_000)
        if args.page:
            page.get_by_text(args.page, exact=True).first.click(timeout=180_000)
            page.wait_for_timeout(3000)
        if args.page == "Downscaling":
            page.get_by_role("button", name="Downscale").click(timeout=180_000)
            page.get_by_text("Press Downscale").first.wait_for(state="detached", timeout=600_000)
        else:
            page.get_by_role("button", name="Generate").click(timeout=180_000)
            page.get_by_text("Generating ").first.wait_for(state="visible", timeout=60_000)
            page.get_by_text("Generating ").first.wait_for(state="detached", timeout=600_000)
        page.wait_for_timeout(6000)
        page.screenshot(path=args.output, full_page=True)
        for tab in args.tab:
            page.get_by_text(tab, exact=True).first.click()
            page.wait_for_timeout(5000)
            page.screenshot(
                path=args.output.replace(".png", f"-{tab.split()[0].lower()}.png"), full_page=True
            )
        browser.close()


if __name__ == "__main__":
    main()
