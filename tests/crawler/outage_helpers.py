"""Helpers of the crawl outage tests (test_crawl_outages.py: the site and the parts at the start;
test_crawl_db_outages.py: SQLite's write lock and a PostgreSQL restart): a `dobae crawl run` in a
subprocess with small batches and a short flush interval, and the rows it stored."""

from __future__ import annotations

import subprocess
import time

from crawl_helpers import ROOT, assert_golden, dobae_crawl_cmd, env_for
from sqlalchemy import func, select

from crawler.sandbox import Site
from crawler.sandbox.golden import deleted_ids, golden_rows
from db.models import CrawlRun, Question
from db.session import dispose_engines, session_scope

SCALE = 70  # the 66 seed questions and a few generated ones: a crawl of a few seconds
SLOW = ("--set", "DOWNLOAD_DELAY=0.05", "--set", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
        "--set", "DOBAE_DB_FLUSH_S=0.2", "--set", "DOBAE_DB_BATCH_SIZE=5")  # fmt: skip


def stored(db_url: str) -> int:
    try:
        with session_scope(db_url) as s:
            return s.scalar(select(func.count()).select_from(Question))
    finally:
        dispose_engines()


def runs(db_url: str) -> list[CrawlRun]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(CrawlRun).order_by(CrawlRun.id)))


def start_crawl(db_url: str, base: str, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        dobae_crawl_cmd("ohouse", base, *SLOW, *extra), cwd=ROOT, env={**env_for(db_url), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_until(check, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, f"the crawl ended before {what}: {proc.stderr.read()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def rerun_restores_every_row(db_url: str, base: str, site: Site) -> None:
    again = subprocess.run(dobae_crawl_cmd("ohouse", base), cwd=ROOT, env=env_for(db_url),
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert_golden(db_url, base, golden_rows(site), deleted_ids(site))
