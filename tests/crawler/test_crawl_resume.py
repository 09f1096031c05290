"""A crawl of the sandbox killed with SIGKILL and restarted with the same JOBDIR ends with exactly
the golden rows: nothing lost, nothing duplicated (real `scrapy crawl` subprocesses)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from crawl_helpers import ROOT, assert_golden, env_for, expected_rows, run_scrapy, scrapy_cmd
from sqlalchemy import func, select

from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.golden import deleted_ids, golden_rows
from db.models import Answer, CrawlRun, QAPair, Question, RunStatus
from db.session import dispose_engines, session_scope
from dobae.status import collect

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


def test_sigkill_with_a_big_batch_loses_only_the_last_seconds_and_the_run_shows_interrupted(db_url, tmp_path):
    """The default batch (200) is larger than what is crawled before the kill: items are written
    every DOBAE_DB_FLUSH_S all the same, so the SIGKILL costs only the last moments. The killed
    run is shown as `interrupted` (its process is gone) by `dobae crawl runs` and `dobae status`,
    and the same command with the same JOBDIR resumes it to exactly the golden rows."""
    site = Site(scale=SCALE, slow_s=0.3, log_requests=True)
    golden = golden_rows(site)
    flush_s, margin_s = 0.5, 4.0  # margin: the crawl process may lag behind the site on busy cores
    extra = ("-s", f"DOBAE_DB_FLUSH_S={flush_s}", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
             "-s", "DOWNLOAD_DELAY=0.1")  # fmt: skip
    jobdir = str(tmp_path / "job")
    with serve_sandbox(site=site) as base:
        proc = subprocess.Popen(
            scrapy_cmd("ohouse", base, *extra, jobdir=jobdir),
            cwd=ROOT, env=env_for(db_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and counts(db_url)[0] < 10:
            time.sleep(0.05)
        assert proc.poll() is None, (
            "the crawl ended before anything was stored: nothing flushed before a full batch"
        )
        time.sleep(flush_s + margin_s + 1.5)  # more items scraped, buffered and flushed by time
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        dispose_engines()
        with session_scope(db_url) as s:
            stored = set(s.scalars(select(Question.external_id)))
        last: dict[str, tuple[float, int]] = {}  # question → its last request (a retry counts)
        for t, _m, p, status in list(site.request_log):
            if re.fullmatch(r"/questions/\d+", p):
                last[p.rsplit("/", 1)[1]] = (t, status)
        cutoff = killed_at - flush_s - margin_s
        answered = {q for q, (t, status) in last.items() if status in (200, 404) and t < cutoff}
        # (1024's first answer is cut short: its retry may still wait in the queue, not yet scraped)
        lost = answered - stored - {"1024"}
        print(
            f"stored before the kill: {len(stored)}; answered ≥ {margin_s + flush_s} s before it: {len(answered)}"
        )
        assert len(answered) >= 10 and not lost, sorted(lost)

        runs = subprocess.run(
            [sys.executable, "-m", "crawler", "crawl", "runs"], capture_output=True, text=True, timeout=60,
            env=env_for(db_url), cwd=ROOT,
        )  # fmt: skip
        assert runs.returncode == 0, runs.stderr
        assert "interrupted" in runs.stdout and "running" not in runs.stdout, runs.stdout
        assert f"is gone (killed?); resume: run the same crawl again with --jobdir {jobdir}" in " ".join(
            runs.stdout.split()
        )
        assert [r.status for r in collect(db_url).crawl_runs] == ["interrupted"]

        run_scrapy("ohouse", base, db_url, *extra[:2], jobdir=jobdir)
    assert_golden(db_url, base, golden, deleted_ids(site))
    with session_scope(db_url) as s:
        rows = [(r.status, r.error) for r in s.scalars(select(CrawlRun).order_by(CrawlRun.id))]
    assert rows[0][0] == RunStatus.interrupted and "is gone" in rows[0][1]  # stored at the restart
    assert rows[1] == (RunStatus.finished, None)
