"""`ohouse_sitemap`: a second crawl refetches only the question whose sitemap lastmod changed."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from crawl_helpers import db_questions, free_port, run_scrapy, wait_http

HERE = Path(__file__).parent


@contextmanager
def site(port: int, log: Path, *args: str):
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "mini_site.py"), str(port), str(log), *args], stderr=subprocess.PIPE
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/robots.txt", proc)
        log.write_text("", encoding="utf-8")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def detail_requests(log: Path) -> list[str]:
    return sorted(p for p in log.read_text(encoding="utf-8").split() if p.startswith("/questions/"))


def test_incremental_recrawl_refetches_only_changed(db_url, tmp_path):
    port, log = free_port(), tmp_path / "requests.log"
    with site(port, log, "3", "0") as base:
        run_scrapy("ohouse_sitemap", base, db_url)
        first = detail_requests(log)
    assert first == sorted(f"/questions/{i}" for i in ["11", "12", "13", "14", "15", "100", "101", "102"])
    before = db_questions(db_url)
    assert before["12"]["q"].raw == {"lastmod": "2026-04-25T00:00:00+09:00"}

    with site(port, log, "3", "0") as base:  # nothing changed: nothing refetched
        run_scrapy("ohouse_sitemap", base, db_url)
        assert detail_requests(log) == ["/questions/15"]  # login-only: never stored, so asked again

    with site(port, log, "3", "0", "12") as base:  # question 12 edited
        proc = run_scrapy("ohouse_sitemap", base, db_url)
        assert detail_requests(log) == ["/questions/12", "/questions/15"]
    after = db_questions(db_url)
    assert after["12"]["q"].title == "욕실 천장 곰팡이 제거 방법 (수정)"
    assert after["12"]["q"].raw == {"lastmod": "2026-04-30T18:00:00+09:00"}
    assert after["11"]["q"].updated_at == before["11"]["q"].updated_at
    assert "'incremental/skipped': 6" in proc.stderr
