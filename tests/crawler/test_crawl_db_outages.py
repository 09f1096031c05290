"""A crawl whose database fails midway never loses rows silently: a short outage is waited out (the
batch is written again on a new connection), a long one stops the crawl `interrupted` with the
reason and exit 1, and the same crawl run again ends with exactly the site's rows.

Real parts: `dobae crawl run` subprocesses, the sandbox site on 127.0.0.1, SQLite's write lock held
by another connection, a private PostgreSQL cluster stopped and started with pg_ctl on the same
data folder and port."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time

import pytest
from crawl_helpers import PrivatePostgres, assert_golden, error_lines
from outage_helpers import SCALE, rerun_restores_every_row, runs, start_crawl, stored, wait_until

from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.golden import deleted_ids, golden_rows
from db.models import RunStatus
from db.runs import run_state
from db.session import dispose_engines

# ----------------------------------------------------------------------------- SQLite's write lock


@pytest.mark.parametrize("held_s", [2.5, float("inf")], ids=["waited_out", "too_long"])
def test_sqlite_write_lock_held_past_the_busy_timeout(sqlite_url, held_s):
    """Another process holds SQLite's write lock longer than the busy timeout (1 s here). Waited out:
    exactly the site's rows, exit 0 (before: every later batch failed with the old error and the
    run ended `finished`). Too long for the retries (held until the crawl gives up): `interrupted`,
    exit 1, and a rerun is exact."""
    site = Site(scale=SCALE, log_requests=True)
    path = sqlite_url.removeprefix("sqlite:///")
    env = {"DOBAE_SQLITE_BUSY_TIMEOUT_MS": "1000"}
    retries = (
        "--set",
        "DOBAE_DB_RETRY_BACKOFF_S=0.25",
        "--set",
        "DOBAE_DB_RETRY_TIMES=" + ("5" if held_s < 5 else "1"),
    )
    with serve_sandbox(site=site) as base:
        proc = start_crawl(sqlite_url, base, *retries, env=env)
        wait_until(lambda: stored(sqlite_url) >= 10, proc, "10 questions were stored")
        lock = sqlite3.connect(path, timeout=30, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # the write lock, held
        if held_s < 5:
            time.sleep(held_s)
        else:  # held until the crawl gives up (not a fixed 8 s: the crawl is over in about 3)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pytest.fail("the crawl did not stop while the write lock was held")
        lock.execute("ROLLBACK")
        lock.close()
        _out, err = proc.communicate(timeout=120)
        [run] = runs(sqlite_url)
        if held_s < 5:
            assert proc.returncode == 0, err[-3000:]
            assert run.status == RunStatus.finished and run.stats["db/retries"] >= 1
            assert_golden(sqlite_url, base, golden_rows(site), deleted_ids(site))
            return
        assert proc.returncode == 1, err[-3000:]
        lines = error_lines(err)
        assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
        assert "database is locked" in lines[0] and "run the same crawl again" in lines[0], lines
        assert run_state(run) == RunStatus.interrupted
        assert stored(sqlite_url) < len(golden_rows(site))
        rerun_restores_every_row(sqlite_url, base, site)


# ----------------------------------------------------------------------------- PostgreSQL restarts


@pytest.fixture
def private_pg():
    from db.migrate import ensure_schema

    pg = PrivatePostgres()
    try:
        ensure_schema(pg.url)
        yield pg
    finally:
        dispose_engines()
        pg.remove()


@pytest.mark.postgres
@pytest.mark.parametrize("down_s", [2.0, float("inf")], ids=["waited_out", "too_long"])
def test_postgres_restarted_midway(private_pg, monkeypatch, down_s):
    """PostgreSQL stopped (`pg_ctl stop -m fast`: every connection dropped) and started again.
    Back within the retries: exactly the site's rows, exit 0, the pool renewed (before: 63 of 398
    stored, `finished`, exit 0). Down too long: the crawl stops `interrupted`, exit 1, one line;
    the same crawl run again once the server is back stores every row."""
    url = private_pg.url
    monkeypatch.setenv("DOBAE_DATABASE_URL", url)
    site = Site(scale=SCALE, log_requests=True)
    retries = (
        "--set",
        "DOBAE_DB_RETRY_BACKOFF_S=0.5",
        "--set",
        "DOBAE_DB_RETRY_TIMES=" + ("5" if down_s < 5 else "2"),
    )
    with serve_sandbox(site=site) as base:
        proc = start_crawl(url, base, *retries)
        wait_until(lambda: stored(url) >= 10, proc, "10 questions were stored")
        private_pg.stop()
        if down_s < 5:
            time.sleep(down_s)
            private_pg.start()
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-3000:]
            [run] = runs(url)
            assert run.status == RunStatus.finished and run.stats["db/retries"] >= 1
            assert_golden(url, base, golden_rows(site), deleted_ids(site))
            return
        out, err = proc.communicate(timeout=120)  # down for good: the crawl gives up and stops
        private_pg.start()
        assert proc.returncode == 1, err[-3000:]
        # the stopped crawl tries no more writes than the failed batch's, the run's end and maybe a
        # list page's read of the stored questions (before: each item that waited for the failed
        # batch tried a write of its own with all its retries: 39 retries, 28 s more)
        retries = int(re.search(r"db/retries\W+(\d+)", out).group(1))
        assert 3 <= retries <= 7, out
        lines = error_lines(err)
        assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
        assert "cannot reach the database server" in lines[0] or "connection" in lines[0].lower(), lines
        assert "run the same crawl again" in lines[0], lines
        [run] = runs(url)
        assert run_state(run) == RunStatus.interrupted
        assert stored(url) < len(golden_rows(site))
        rerun_restores_every_row(url, base, site)
