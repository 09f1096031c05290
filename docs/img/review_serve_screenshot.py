"""Take docs/img/review-serve.png: `dobae review serve` on the demo's review queue (the demo's crawl,
import and curate steps in a throwaway data folder: the sandbox crawl's flagged pairs wait for a
person), in Debian's headless Chromium; then clear that queue with the keyboard and print the timing.

    PYTHONPATH=. .venv/bin/python docs/img/review_serve_screenshot.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).with_name("review-serve.png")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DOBAE_DATA_DIR"] = tmp
        os.environ.pop("DOBAE_DATABASE_URL", None)
        from foundation.settings import get_settings, reset_settings

        reset_settings()
        from dobae.demo import run_demo

        run_demo(only=["crawl", "import", "curate"])
        shoot(get_settings().db_url)


def shoot(url: str) -> None:
    from playwright.sync_api import sync_playwright

    from dobae.review_app.app import create_app
    from dobae.review_app.serve import serving

    with serving(create_app(url, "kim")) as base, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        page.goto(base + "/")
        page.screenshot(path=str(OUT))
        shrink(OUT)
        print(OUT, OUT.stat().st_size, "bytes;", page.locator("#count").inner_text(), "pairs wait")
        n, t0 = 0, time.perf_counter()
        while page.locator("#card").count():  # clear the queue: approve, every fifth rejected
            pid = page.locator("#card").get_attribute("data-id")
            page.keyboard.press("r" if n % 5 == 4 else "a")
            page.wait_for_function(
                f"!document.querySelector('#card') || document.querySelector('#card').dataset.id !== '{pid}'"
            )
            n += 1
        seconds = time.perf_counter() - t0
        print(
            f"cleared {n} pairs with the keyboard in {seconds:.1f} s; {page.locator('#progress').inner_text()}"
        )
        browser.close()


def shrink(path: Path) -> None:
    """128 colours are plenty for a page of text (keeps the README's image well under 200 KB)."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128)
    small.save(path, optimize=True)


if __name__ == "__main__":
    main()
