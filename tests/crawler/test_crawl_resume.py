"""A crawl killed with SIGKILL and restarted with the same JOBDIR ends with exactly the rows of an
uninterrupted crawl: nothing lost, nothing duplicated (real `scrapy crawl` subprocesses)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crawl_helpers import ROOT, db_questions, env_for, free_port, run_scrapy, scrapy_cmd, wait_http
from sqlalchemy import func, select

from db.models import QAPair, Question
from db.session import dispose_engines, session_scope

HERE = Path(__file__).parent
N = 60


@pytest.fixture
def slow_site(tmp_path):
    port = free_port()
    log = tmp_path / "requests.log"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "mini_site.py"), str(port), str(log), str(N), "0.03"],
        stderr=subprocess.PIPE,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/robots.txt", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def snapshot(db_url: str) -> dict:
    rows = db_questions(db_url)
    with session_scope(db_url) as s:
        pairs = sorted((p.key, p.question_text, p.answer_text) for p in s.scalars(select(QAPair)))
    return {
        "questions": {
            k: (
                v["q"].title,
                v["q"].body,
                v["q"].is_deleted,
                v["q"].content_hash,
                [(a.external_id, a.body, a.content_hash) for a in v["answers"]],
            )
            for k, v in rows.items()
        },  # fmt: skip
        "pairs": pairs,
    }


def test_sigkill_then_resume_with_jobdir_equals_uninterrupted(db_url, slow_site, tmp_path):
    extra = ("-a", "per=10", "-s", "DOBAE_DB_BATCH_SIZE=4", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2")
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    run_scrapy("ohouse", slow_site, reference, *extra)
    expected = snapshot(reference)
    assert len(expected["questions"]) == N + 4  # 11, 12, 13 (deleted), 14 (404), generated

    jobdir = str(tmp_path / "job")
    proc = subprocess.Popen(
        scrapy_cmd("ohouse", slow_site, *extra, jobdir=jobdir),
        cwd=ROOT, env=env_for(db_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    stored = 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        with session_scope(db_url) as s:
            stored = s.scalar(select(func.count()).select_from(Question))
        if stored >= 12:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the crawl finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    dispose_engines()
    with session_scope(db_url) as s:
        partial = s.scalar(select(func.count()).select_from(Question))
    assert 12 <= partial < N + 4, partial

    run_scrapy("ohouse", slow_site, db_url, *extra, jobdir=jobdir)
    assert snapshot(db_url) == expected
