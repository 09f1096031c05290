"""Helpers of the crawl tests: the sandbox site in a subprocess, `scrapy crawl` in a subprocess,
and the database rows of a crawl in the golden file's shape."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
FAST = [
    "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
    "-s", "RETRY_BACKOFF_BASE=0.05", "-s", "LOG_LEVEL=INFO", "-s", "TELNETCONSOLE_ENABLED=0",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read().decode()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


def env_for(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DOBAE_DATABASE_URL"] = db_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


def scrapy_cmd(spider: str, base_url: str, *extra: str, jobdir: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"base_url={base_url}", *FAST, *extra]
    if jobdir:
        cmd += ["-s", f"JOBDIR={jobdir}"]
    return cmd


def run_scrapy(
    spider: str, base_url: str, db_url: str, *extra: str, jobdir: str | None = None, timeout: float = 180
):
    proc = subprocess.run(
        scrapy_cmd(spider, base_url, *extra, jobdir=jobdir),
        cwd=ROOT, env=env_for(db_url), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def db_questions(db_url: str, source: str = "ohouse") -> dict[str, dict]:
    """external id → the stored question with its answers (live and deleted)."""
    from db.models import Answer, Question, Source
    from db.session import session_scope

    out: dict[str, dict] = {}
    with session_scope(db_url) as s:
        qs = s.scalars(select(Question).join(Source).where(Source.name == source)).all()
        for q in qs:
            answers = s.scalars(select(Answer).where(Answer.question_id == q.id).order_by(Answer.id)).all()
            out[q.external_id] = {"q": q, "answers": answers}
    return out
