"""`ohouse_spa` with real Chromium (Debian's /usr/bin/chromium) on JavaScript-only pages: the list
needs "더보기" clicks, comments need page-button clicks; every page is closed (the crawl ends)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from crawl_helpers import db_questions, free_port, run_scrapy, wait_http

HERE = Path(__file__).parent

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "mini_site.py"), str(port), str(tmp_path / "log")], stderr=subprocess.PIPE
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/robots.txt", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_browser_spider_renders_scrolls_and_clicks(sqlite_url, site):
    if not shutil.which("chromium") and not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian chromium is missing: apt-get install -y chromium (make test installs it)")
    proc = run_scrapy("ohouse_spa", site, sqlite_url, "-a", "wait_ms=5000", timeout=240)
    rows = db_questions(sqlite_url)
    assert set(rows) == {"11", "12", "15", "13"}  # 4 cards, two "더보기" rounds
    assert rows["13"]["q"].is_deleted
    q11 = rows["11"]["q"]
    assert q11.title == "안방 벽지가 들떠서 울어요"
    assert q11.body == "도배한 지 한 달 됐는데\n창문 쪽 벽지가 들떴어요 & 울어요"
    # two comment pages, one comment each: both collected by clicking "다음"
    assert [(a.external_id, a.parent_external_id, a.body) for a in rows["11"]["answers"]] == [
        ("9001", None, "초배지가 덜 마른 상태에서 정배를 하면 생겨요.\n시공사에 하자보수 요청하세요."),
        ("9002", "9001", "감사합니다 ㅠㅠ"),
    ]
    assert "'spa/list_cards': 4" in proc.stderr and "spa/failed" not in proc.stderr
