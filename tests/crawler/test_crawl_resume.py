"""A crawl of the sandbox killed with SIGKILL and restarted with the same JOBDIR ends with exactly
the golden rows: nothing lost, nothing duplicated (real `scrapy crawl` subprocesses)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

from crawl_helpers import ROOT, assert_golden, env_for, expected_rows, run_scrapy, scrapy_cmd
from sqlalchemy import func, select

from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.golden import deleted_ids, golden_rows
from db.models import Answer, QAPair, Question
from db.session import dispose_engines, session_scope

SCALE = 200  # the 66 seed questions + 134 generated ones


def counts(db_url: str) -> tuple[int, int, int]:
    with session_scope(db_url) as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Question, Answer, QAPair))


def test_sigkill_then_resume_with_jobdir_ends_with_the_golden_rows(db_url, tmp_path):
    site = Site(scale=SCALE, slow_s=0.3, log_requests=True)
    golden = golden_rows(site)
    extra = (
        "-s",
        "DOBAE_DB_BATCH_SIZE=4",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=2",
        "-s",
        "DOWNLOAD_DELAY=0.02",
    )
    jobdir = str(tmp_path / "job")
    with serve_sandbox(site=site) as base:
        proc = subprocess.Popen(
            scrapy_cmd("ohouse", base, *extra, jobdir=jobdir),
            cwd=ROOT, env=env_for(db_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        stored = 0
        while time.monotonic() < deadline and proc.poll() is None:
            stored = counts(db_url)[0]
            if stored >= 24:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the crawl finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        dispose_engines()
        partial = counts(db_url)[0]
        assert 24 <= partial < len(golden), partial

        killed_at = len(site.request_log)
        # SIGKILL tears Scrapy's disk queue (a retry pushed into it was lost before JobdirGuard):
        # the restart drops it, reads the lists again and skips what the database already holds
        restart = run_scrapy("ohouse", base, db_url, *extra, jobdir=jobdir)
        assert "did not stop cleanly" in restart.stderr and "struct.error" not in restart.stderr
        resumed = [p for _t, _m, p, _s in site.request_log[killed_at:]]

    assert_golden(db_url, base, golden, deleted_ids(site))
    questions, answers, pairs = counts(db_url)
    assert questions == len(golden) + len(deleted_ids(site))  # no duplicates (and 1013, 1014 deleted)
    assert answers == sum(len(g["comments"]) for g in golden)
    assert pairs == sum(len(v.get("pairs", {})) for v in expected_rows(base, golden).values())
    # questions stored before the kill (with the same comment count) were not fetched again: what
    # the restart fetched is what was missing, plus the few in flight or buffered at the kill
    refetched = {p for p in resumed if re.fullmatch(r"/questions/\d+", p)}
    missing = len(golden) + len(deleted_ids(site)) - partial
    print(
        f"stored before the kill: {partial}, fetched after the restart: {len(refetched)}, missing: {missing}"
    )
    # (+ 1012 and 1015, never stored so asked again; a little slack for the kill's timing)
    assert missing + 2 <= len(refetched) <= missing + 4, (len(refetched), missing)
