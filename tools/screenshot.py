"""Open a served climviz page in headless Debian Chromium and save a screenshot.

    python tools/screenshot.py http://localhost:5006/app out.png [--wait-for TEXT] [--timeout 120]

Uses Playwright with the system Chromium (never ``playwright install``).
Prints console errors, and exits 1 when there were any.
"""

from __future__ import annotations

import argparse
import sys

from playwright.sync_api import sync_playwright

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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("output")
    ap.add_argument("--wait-for", default=None, help="text that must appear before the screenshot")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=1100)
    args = ap.parse_args()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        try:
            page.goto(args.url, timeout=args.timeout * 1000)
            if args.wait_for:
                page.get_by_text(args.wait_for).first.wait_for(timeout=args.timeout * 1000)
            page.wait_for_selector("canvas", state="attached", timeout=args.timeout * 1000)
            page.wait_for_timeout(3000)
        finally:
            page.screenshot(path=args.output, full_page=True)
            browser.close()
    for e in errors:
        print("console error:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
