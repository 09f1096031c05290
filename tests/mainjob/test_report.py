"""`dobae report`: a self-contained HTML file, rendered in real headless Chromium (Debian's)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from dobae.report import count_sentences, text_stats

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip


def test_text_stats_counts_bytes_syllables_sentences():
    st = text_stats("벽지가 들떠요. 왜 그런가요?")
    assert (st.bytes, st.syllables, st.sentences) == (len("벽지가 들떠요. 왜 그런가요?".encode()), 11, 2)
    assert text_stats("") == (0, 0, 0)
    assert count_sentences("문장 끝 표시가 없는 글") == 1


def test_report_html_is_self_contained(filled_db, tmp_path):
    import warnings

    from matplotlib import font_manager

    from dobae.report import write_report

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = write_report(tmp_path / "r.html", url=filled_db, embedder="none")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    hangul_fonts = [f for f in font_manager.findSystemFonts() if "Nanum" in f or "NotoSansCJK" in f]
    if hangul_fonts:  # installed (make test installs fonts-nanum): the plots' Korean is drawn with it
        assert missing == [], missing[:3]
    html = out.read_text(encoding="utf-8")
    # tables behind the plots, with the data that was put in
    assert "곰팡이" in html and "마감하자" in html
    assert "refusal" in html and "rejected" in html
    assert "smoke-run" in html and "0.5731" in html
    assert ">17<" in html and ">200:21 503:2<" in html  # the crawl run's items and HTTP statuses
    assert ">2026-04-03<" in html  # the crawled question's posting date
    assert html.count("data:image/png;base64,") >= 5
    assert not re.search(r"""(src|href)=["']https?://""", html), "no external resources (offline report)"


@pytest.mark.browser
@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and os.environ.get("CI") != "true",
    reason="Debian chromium not installed (.ci/run installs it; never skipped in CI)",
)
def test_report_renders_in_chromium_without_console_errors(filled_db, tmp_path):
    from playwright.sync_api import sync_playwright

    from dobae.report import write_report

    out = write_report(tmp_path / "r.html", url=filled_db, embedder="muse3")
    assert "질문–답변 유사도" not in out.read_text(encoding="utf-8")  # plot titles are inside PNGs, not text
    assert "question–answer" in out.read_text(encoding="utf-8")  # similarity table present
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed {r.url}"))
        page.goto(out.resolve().as_uri())
        n_images = page.evaluate("document.images.length")
        loaded = page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        shot = page.screenshot(full_page=True)
        browser.close()
    assert errors == []
    assert n_images >= 6 and loaded
    assert len(shot) > 20_000  # a full page of plots, not a blank one
    shutil.copy(out, tmp_path / "kept.html")
