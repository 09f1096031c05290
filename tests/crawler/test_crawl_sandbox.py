"""`scrapy crawl ohouse` in a real subprocess against the sandbox site (served on 127.0.0.1 by a
thread of this process, every request logged): the database rows equal the golden JSONL exactly
(questions, comments and replies, deleted flags, counts, pseudonymised authors, pending crawl
qa_pairs), on SQLite and PostgreSQL; and every fault of the sandbox is met the way CONTRACT.md says.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from crawl_helpers import ROOT, assert_golden, db_questions, env_for, run_scrapy

from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.golden import deleted_ids, golden_rows, load_golden, unreachable_ids
from db.models import CrawlRun
from db.session import session_scope

DISALLOWED = re.compile(r"^/(users/|questions/new|_sandbox/|.*/report)")


@pytest.fixture
def sandbox():
    site = Site(slow_s=0.5, churn=3, log_requests=True)  # markup churn: no emotion hash as in the tests
    with serve_sandbox(site=site) as base:
        yield site, base


def times_of(site: Site, target: str) -> list[float]:
    return [t for t, _m, path, _s in site.request_log if path == target]


def test_crawl_equals_golden_rows_then_skips_unchanged_and_updates_an_edit(db_url, sandbox):
    site, base = sandbox
    proc = run_scrapy("ohouse", base, db_url)
    golden = load_golden("ohouse.jsonl")
    assert len(golden) == 62 and "1066" in {g["external_id"] for g in golden}  # the late post too
    assert_golden(db_url, base, golden, deleted_ids())  # 1013 soft, 1014 hard: marked deleted

    requested = site.requested()
    # politeness: robots.txt first; disallowed paths and the sign-in page never requested
    assert requested[0] == "/robots.txt"
    assert not [p for p in requested if DISALLOWED.match(p)], [p for p in requested if DISALLOWED.match(p)]
    # members-only 1012: its 302 into /users/sign_in is not followed (nothing stored)
    assert requested.count("/questions/1012") == 1 and set(unreachable_ids()) == {"1012", "1015"}
    # always-500 1015: the first try and 3 retries, then given up
    assert requested.count("/questions/1015") == 4
    # flaky 1016: 503 + Retry-After: 1 twice, then 200 — each retry a second after the one before
    t1016 = times_of(site, "/questions/1016")
    assert len(t1016) == 3 and all(b - a >= 0.9 for a, b in zip(t1016, t1016[1:], strict=False)), t1016
    # 1017: 429 + Retry-After: 1, waited, then 200
    t1017 = times_of(site, "/questions/1017")
    assert len(t1017) == 2 and t1017[1] - t1017[0] >= 0.9, t1017
    # 1024: the body cut short of its Content-Length is an error and retried once
    assert requested.count("/questions/1024") == 2
    # 1019: truncated data-react-props → HTML + both comments.json pages (page 2 repeats a comment)
    assert {
        "/questions/1019/comments.json?page=1&per=10",
        "/questions/1019/comments.json?page=2&per=10",
    } <= set(requested)
    # the list JSON's page 3 is always truncated: that range comes from the HTML list instead
    assert "/questions?page=3" in requested
    # the late post 1066 appeared after page 1 was read: page 1 was read again
    assert requested.count("/questions.json?page=1&per=20") == 2
    # the slow question (0.5 s per response) is stored like any other (checked by the golden rows)
    with session_scope(db_url) as s:
        run = s.query(CrawlRun).one()
        stats = run.stats
    assert run.status.value == "finished"
    assert stats["login_redirect/blocked"] == 1 and stats["ohouse/list_reread"] == 1
    assert stats["retry_after/503"] == 2 and stats["retry_after/429"] == 1
    assert stats["ohouse/list_json_broken"] == 1 and stats["ohouse/embedded_json_broken"] == 1
    assert stats["item_scraped_count"] == 64  # 62 live + 2 deleted
    assert "question http://127.0.0.1" in proc.stderr and "/questions/1015 failed" in proc.stderr

    # a second crawl: lists are read again, stored questions with the same comment count are not
    before = len(site.request_log)
    site.edit(1001, add_comment=True)  # 1001 changed: a new comment (and a new title and body)
    site.set_churn(4)  # and every hashed class name changed again
    run_scrapy("ohouse", base, db_url)
    again = [p for _t, _m, p, _s in site.request_log[before:]]
    refetched = {m.group(1) for p in again if (m := re.match(r"/questions/(\d+)$", p))}
    assert refetched == {"1001", "1012", "1013", "1014", "1015"}  # changed, never stored, deleted
    assert_golden(db_url, base, golden_rows(site), deleted_ids())  # the edit is stored, nothing else moved


def test_dobae_crawl_run_prints_a_summary_and_lists_runs(sqlite_url):
    with serve_sandbox(site=Site(slow_s=0.2)) as base:
        proc = subprocess.run(
            [sys.executable, "-m", "crawler", "crawl", "run", "ohouse", "--base-url", base, "--no-throttle",
             "--query", "곰팡이", "--set", "LOG_LEVEL=WARNING"],
            capture_output=True, text=True, timeout=120, env=env_for(sqlite_url), cwd=ROOT,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "crawl ohouse: finished" in proc.stdout
    assert "db/questions_inserted" in proc.stdout and "item_scraped_count" in proc.stdout
    # only the questions the keyword finds (keyword, title or body), nothing else
    site = Site(late_post=False)  # every question listed (the crawl re-reads the list for the late one)
    wanted = {str(q.id) for q in site.listed(query="곰팡이") if q.is_live}
    stored = {k for k, v in db_questions(sqlite_url).items() if not v["q"].is_deleted}
    assert stored == wanted and 5 <= len(wanted) < 62
    runs = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "runs"], capture_output=True, text=True, timeout=60,
        env=env_for(sqlite_url), cwd=ROOT,
    )  # fmt: skip
    assert runs.returncode == 0 and "finished" in runs.stdout


def test_rate_limited_site_and_a_page_slower_than_the_timeout(sqlite_url):
    """`--rate-limit`: a token bucket answers 429 + Retry-After when the crawl is too fast; every
    429 is waited out and retried. Question 1018 answers after 4 s, past DOWNLOAD_TIMEOUT=2: it
    is tried 4 times, given up and logged; everything else equals the golden rows. Its row is
    missing, so the crawl is `failed` with "run the same crawl again" and exits 1."""
    site = Site(rate_limit=4, burst=3, slow_s=4.0, log_requests=True)
    with serve_sandbox(site=site) as base:
        proc = run_scrapy(
            "ohouse", base, sqlite_url, "-a", "query=결로", "-s", "DOWNLOAD_TIMEOUT=2", expect=1
        )
    assert "1 page(s) from " + base + " could not be fetched (timeout ×1" in proc.stderr
    assert "run the same crawl again" in proc.stderr
    listed = {str(q.id) for q in site.listed(query="결로")}
    assert "1018" in listed and len(listed) >= 5
    golden = [g for g in golden_rows(site) if g["external_id"] in listed - {"1018"}]
    assert_golden(sqlite_url, base, golden)
    log = site.request_log
    limited = [(t, p) for t, _m, p, status in log if status == 429]
    assert limited, "the crawl never hit the rate limit"
    for t, p in limited:  # the next request for the same path came after Retry-After (≥ 1 s)
        later = [t2 for t2, _m, p2, _s in log if p2 == p and t2 > t]
        assert later and later[0] - t >= 0.9, (p, later[:1], t)
    assert len([p for _t, _m, p, _s in log if p == "/questions/1018"]) == 4
    assert "/questions/1018 failed" in proc.stderr and "TimeoutError" in proc.stderr
