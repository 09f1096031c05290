"""`scrapy crawl ohouse` in a real subprocess against a tiny local site whose every request is
logged: Retry-After is honoured, robots.txt-disallowed and login pages are never requested,
deleted questions are recorded as deleted, and the rows are exactly the site's content."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from crawl_helpers import ROOT, db_questions, env_for, free_port, run_scrapy, wait_http

from db.models import CrawlRun, QAPair
from db.session import session_scope

HERE = Path(__file__).parent


@pytest.fixture
def mini_site(tmp_path):
    port = free_port()
    log = tmp_path / "requests.log"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "mini_site.py"), str(port), str(log)], stderr=subprocess.PIPE
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/robots.txt", proc)
        log.write_text("", encoding="utf-8")
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_crawl_mini_site(db_url, mini_site):
    base, log = mini_site
    t0 = time.monotonic()
    proc = run_scrapy("ohouse", base, db_url, "-a", "per=2")
    elapsed = time.monotonic() - t0
    requested = log.read_text(encoding="utf-8").split()
    # politeness: robots.txt first, disallowed and login pages never
    assert requested[0] == "/robots.txt"
    assert not [p for p in requested if p.startswith("/users/")]
    # the first list request got 429 + Retry-After: 1; it was retried once, a second later
    assert requested.count("/questions.json?page=1&per=2") == 2
    assert elapsed > 1.0 and "retry_after/429" in proc.stderr
    rows = db_questions(db_url)
    assert set(rows) == {"11", "12", "13", "14"}  # 15 is behind a login redirect: not followed
    assert rows["13"]["q"].is_deleted and rows["14"]["q"].is_deleted
    live = {k: v for k, v in rows.items() if not v["q"].is_deleted}
    q11 = live["11"]["q"]
    assert q11.title == "안방 벽지가 들떠서 울어요"
    assert q11.body == "도배한 지 한 달 됐는데\n창문 쪽 벽지가 들떴어요 & 울어요"
    assert q11.posted_at.replace(tzinfo=None).isoformat() == "2026-04-20T01:00:00"
    assert [
        (a.external_id, a.parent_external_id, a.author_badge, a.is_adopted) for a in live["11"]["answers"]
    ] == [
        ("9001", None, "expert", True),
        ("9002", "9001", None, False),
    ]
    assert [a.body for a in live["12"]["answers"]] == [
        "락스 희석액으로 닦고 완전히 말린 뒤 곰팡이 방지 페인트를 칠하세요."
    ]
    with session_scope(db_url) as s:
        keys = sorted(p.key for p in s.query(QAPair))
        run = s.query(CrawlRun).one()
        assert run.status.value == "finished" and run.stats["login_redirect/blocked"] == 1
        assert run.stats["item_scraped_count"] == 4
    assert keys == ["crawl:ohouse:9001", "crawl:ohouse:9003"]  # the asker's own reply is no answer

    # a second crawl: lists refetched, stored questions with the same comment count skipped
    log.write_text("", encoding="utf-8")
    run_scrapy("ohouse", base, db_url, "-a", "per=2")
    again = log.read_text(encoding="utf-8").split()
    assert "/questions/11" not in again and "/questions/12" not in again
    assert {k: v["q"].content_hash for k, v in db_questions(db_url).items()} == {
        k: v["q"].content_hash for k, v in rows.items()
    }


def test_dobae_crawl_run_in_process_with_summary(sqlite_url, mini_site):
    base, _log = mini_site
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "run", "ohouse", "--base-url", base, "--no-throttle",
         "--arg", "per=2", "--set", "LOG_LEVEL=WARNING"],
        capture_output=True, text=True, timeout=120, env=env_for(sqlite_url), cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "crawl ohouse: finished" in proc.stdout
    assert "db/questions_inserted" in proc.stdout and "item_scraped_count" in proc.stdout
    assert set(db_questions(sqlite_url)) == {"11", "12", "13", "14"}
    runs = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "runs"], capture_output=True, text=True, timeout=60,
        env=env_for(sqlite_url), cwd=ROOT,
    )  # fmt: skip
    assert runs.returncode == 0 and "finished" in runs.stdout
