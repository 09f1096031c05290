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

SCALE = 100  # the 66 seed questions + 34 generated ones (fewer than a default batch of 200)


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


def batch_trail(log_text: str) -> tuple[list[str], list[list[str]]]:
    """The crawl's DEBUG batch trail: the items in the order they were buffered, and the batches
    written (committed), in order."""
    buffered = re.findall(r"\[crawler\.pipelines\] DEBUG: buffered item (\S+)", log_text)
    written = [
        ids.split()
        for ids in re.findall(r"\[crawler\.store\] DEBUG: wrote a batch of \d+ item\(s\): (.*)", log_text)
    ]
    return buffered, written


def test_sigkill_with_a_big_batch_loses_only_the_last_seconds_and_the_run_shows_interrupted(db_url, tmp_path):
    """The default batch (200) is larger than what is crawled before the kill: items are written
    every DOBAE_DB_FLUSH_S all the same, so the SIGKILL costs only what was buffered since the last
    write. The killed run is shown as `interrupted` (its process is gone) by `dobae crawl runs` and
    `dobae status`, and the same command with the same JOBDIR resumes it to exactly the golden rows.
    Judged by the crawl's own batch trail (what it buffered, what it wrote), not by wall-clock
    margins, so a busy machine cannot fail it."""
    site = Site(scale=SCALE, slow_s=0.3)
    golden = golden_rows(site)
    log_file = tmp_path / "crawl.log"
    extra = (
        "-s",
        "DOBAE_DB_FLUSH_S=0.5",
        "-s",
        "CONCURRENT_REQUESTS_PER_DOMAIN=1",
        "-s",
        "DOWNLOAD_DELAY=0.1",
    )
    jobdir = str(tmp_path / "job")
    with serve_sandbox(site=site) as base:
        proc = subprocess.Popen(
            scrapy_cmd("ohouse", base, *extra, "-s", "LOG_LEVEL=DEBUG", "-s", f"LOG_FILE={log_file}", jobdir=jobdir),
            cwd=ROOT, env=env_for(db_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        written: list[list[str]] = []
        while time.monotonic() < deadline and proc.poll() is None:  # until three batches are written
            written = batch_trail(log_file.read_text(encoding="utf-8") if log_file.exists() else "")[1]
            if len(written) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the crawl ended before three batches were written"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        dispose_engines()
        buffered, written = batch_trail(log_file.read_text(encoding="utf-8"))
        with session_scope(db_url) as s:
            stored = set(s.scalars(select(Question.external_id)))
        committed = {i for batch in written for i in batch}
        print(
            f"buffered before the kill: {len(buffered)}; stored: {len(stored)}; batches: {[len(b) for b in written]}"
        )
        # written by time, not by a full batch: several small batches before the 200 of a batch
        assert len(written) >= 3 and all(0 < len(b) < 200 for b in written), [len(b) for b in written]
        assert committed <= stored <= set(buffered)
        # the kill lost only the tail: what was buffered after the newest item of the last batch written
        newest = max(buffered.index(i) for i in written[-1])
        assert set(buffered[: newest + 1]) <= stored, sorted(set(buffered[: newest + 1]) - stored)

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
