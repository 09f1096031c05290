"""Helpers of the crawl tests: the sandbox site in a subprocess, `scrapy crawl` in a subprocess,
and the database rows of a crawl in the golden file's shape."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from backends import POSTGRES_ONLY  # noqa: F401 - the crawl tests import it from here
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


@contextmanager
def throwaway_redis(folder: Path) -> Iterator[int]:
    """A redis-server of our own on a free port, without persistence, for the block; its port.
    Skips where redis-server is not installed (CI installs it, .ci/redis.sh)."""
    import pytest
    import redis

    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


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
    spider: str, base_url: str, db_url: str, *extra: str, jobdir: str | None = None, timeout: float = 180,
    expect: int = 0,
):  # fmt: skip
    proc = subprocess.run(
        scrapy_cmd(spider, base_url, *extra, jobdir=jobdir),
        cwd=ROOT, env=env_for(db_url), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == expect, proc.stderr[-4000:]
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


# ----------------------------------------------------------------------------- golden comparison


def _utc(value) -> str | None:
    from datetime import UTC

    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives naive datetimes: they are stored in UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def expected_rows(base_url: str, golden: list[dict], deleted: dict[str, str] | None = None) -> dict:
    """The golden JSONL rows → what the database must hold (authors pseudonymised as the pipeline
    does with the configured salt, URLs canonical, deleted questions as bare deleted rows)."""
    from crawler.normalize import canonical_url
    from crawler.pipelines import pseudonym
    from foundation.settings import get_settings

    salt = get_settings().crawl.author_salt.get_secret_value()
    out: dict[str, dict] = {}
    for g in golden:
        src = g["source"]
        q_author = pseudonym(src, g.get("author_id"), g.get("author_name"), salt)
        answers = []
        for c in g["comments"]:
            answers.append({
                "external_id": c["external_id"], "parent_external_id": c.get("parent_external_id"),
                "body": c["body"],
                "author": None if c["is_deleted"] else pseudonym(src, c["author_id"], c["author_name"], salt),
                "author_badge": c.get("author_badge"), "is_adopted": c["is_adopted"],
                "like_count": c.get("like_count"), "posted_at": c["posted_at"], "is_deleted": c["is_deleted"],
            })  # fmt: skip
        out[g["external_id"]] = {
            "url": canonical_url(base_url + g["url"]), "title": g["title"], "body": g["body"],
            "category": g.get("category"), "keywords": g.get("keywords", []), "author": q_author,
            "posted_at": g["posted_at"], "view_count": g["view_count"], "comment_count": g["comment_count"],
            "scrap_count": g.get("scrap_count"), "like_count": g.get("like_count"), "is_deleted": False,
            "comments_incomplete": g.get("comments_incomplete", False), "answers": answers,
        }  # fmt: skip
        pairs = {}
        question_text = g["title"] if not g["body"] else f"{g['title']}\n{g['body']}"
        for a in answers:
            if a["is_deleted"] or not a["body"] or (a["author"] and a["author"] == q_author):
                continue  # the asker's own reply is no answer
            pairs[f"crawl:{src}:{a['external_id']}"] = (question_text, a["body"], g.get("category"))
        out[g["external_id"]]["pairs"] = pairs
    for ext in deleted or {}:
        out[ext] = {"is_deleted": True}
    return out


def stored_rows(db_url: str, source: str = "ohouse", fields: set[str] | None = None) -> dict:
    """The database's questions of `source` in `expected_rows`' shape (deleted ones: only the flag);
    `fields` limits the compared fields (the browser and board pages show fewer)."""
    from db.models import QAPair, Review
    from db.session import session_scope

    out: dict[str, dict] = {}
    rows = db_questions(db_url, source)
    with session_scope(db_url) as s:
        cols = (
            QAPair.key,
            QAPair.question_text,
            QAPair.answer_text,
            QAPair.category,
            QAPair.origin,
            Review.status,
        )
        pairs = {
            key: (text, answer, category, origin.value, status.value)
            for key, text, answer, category, origin, status in s.execute(
                select(*cols).join(Review, Review.pair_id == QAPair.id)
            )
        }
    for ext, v in rows.items():
        q = v["q"]
        if q.is_deleted:
            out[ext] = {"is_deleted": True}
            continue
        answers = [{
            "external_id": a.external_id, "parent_external_id": a.parent_external_id, "body": a.body,
            "author": a.author_pseudonym, "author_badge": a.author_badge, "is_adopted": a.is_adopted,
            "like_count": a.like_count, "posted_at": _utc(a.posted_at), "is_deleted": a.is_deleted,
        } for a in v["answers"]]  # fmt: skip
        my_pairs = {}
        for a in v["answers"]:
            key = f"crawl:{source}:{a.external_id}"
            if key in pairs:
                text, answer, category, origin, status = pairs[key]
                assert (origin, status) == ("crawl", "pending"), (key, origin, status)
                my_pairs[key] = (text, answer, category)
        out[ext] = {
            "url": q.url, "title": q.title, "body": q.body, "category": q.category, "keywords": q.keywords,
            "author": q.author_pseudonym, "posted_at": _utc(q.posted_at), "view_count": q.view_count,
            "comment_count": q.comment_count, "scrap_count": q.scrap_count, "like_count": q.like_count,
            "is_deleted": q.is_deleted, "comments_incomplete": q.comments_incomplete, "answers": answers,
            "pairs": my_pairs,
        }  # fmt: skip
    if fields is not None:
        out = {k: {f: v[f] for f in v if f in fields or f == "is_deleted"} for k, v in out.items()}
    return out


def golden_diff(stored: dict, expected: dict) -> list[str]:
    """Readable differences (question id, field, stored vs golden); empty when equal."""
    out = []
    for ext in sorted(set(stored) | set(expected), key=lambda e: (len(e), e)):
        if ext not in stored:
            out.append(f"{ext}: missing from the database")
        elif ext not in expected:
            out.append(f"{ext}: stored but not golden ({stored[ext].get('title')!r})")
        else:
            for f in sorted(set(stored[ext]) | set(expected[ext])):
                a, b = stored[ext].get(f), expected[ext].get(f)
                if a != b:
                    out.append(f"{ext}.{f}: stored {str(a)[:300]!r} != golden {str(b)[:300]!r}")
    return out


def assert_golden(db_url: str, base_url: str, golden: list[dict], deleted: dict | None = None,
                  source: str = "ohouse", fields: set[str] | None = None) -> None:  # fmt: skip
    expected = expected_rows(base_url, golden, deleted)
    if fields is not None:
        expected = {k: {f: v[f] for f in v if f in fields or f == "is_deleted"} for k, v in expected.items()}
    diff = golden_diff(stored_rows(db_url, source, fields), expected)
    assert not diff, f"{len(diff)} differences from the golden rows:\n" + "\n".join(diff[:40])


def dobae_crawl_cmd(spider: str, base_url: str, *extra: str) -> list[str]:
    """`dobae crawl run SPIDER --base-url URL` with the tests' fast settings (as `--set`)."""
    sets = [x for pair in zip(FAST[::2], FAST[1::2], strict=True) for x in ("--set", pair[1])]
    return [sys.executable, "-m", "crawler", "crawl", "run", spider, "--base-url", base_url, *sets, *extra]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


# ----------------------------------------------------------------------------- a PostgreSQL to restart


class PrivatePostgres:
    """A throwaway PostgreSQL cluster of one test (as .ci/pg.sh makes them) that the test may stop
    and start again on the same data folder and port: a real server restart."""

    def __init__(self) -> None:
        import glob
        import shutil
        import tempfile

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
        if not bins or shutil.which("su") is None and os.geteuid() == 0:
            import pytest

            if os.environ.get("CI") == "true":
                pytest.fail("CI=true but PostgreSQL's binaries are missing (.ci/pg.sh installs them)")
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = bins[-1]
        self.dir = tempfile.mkdtemp(prefix="dobae-pg-restart-")  # not under pytest's 0700 tmp folders
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._as(
            f"{self.bin}/initdb -D {self.dir}/data -U postgres --auth-local=trust --auth-host=trust -E UTF8 --locale=C.UTF-8"
        )
        self.start()
        self._as(f"{self.bin}/psql -q -h {self.dir} -p {self.port} -U postgres -v ON_ERROR_STOP=1 "
                 "-c 'CREATE DATABASE dobae_restart'")  # fmt: skip
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/dobae_restart"

    def _as(self, command: str, check: bool = True) -> None:
        cmd = ["su", "postgres", "-c", command] if os.geteuid() == 0 else ["bash", "-c", command]
        subprocess.run(cmd, check=check, capture_output=True, timeout=120)

    def start(self) -> None:
        self._as(f"{self.bin}/pg_ctl -D {self.dir}/data -l {self.dir}/log -w -t 60 -o '-p {self.port} "
                 f"-k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off' start")  # fmt: skip

    def stop(self, check: bool = True) -> None:
        self._as(f"{self.bin}/pg_ctl -D {self.dir}/data -m fast -w stop", check=check)

    def remove(self) -> None:
        import shutil

        self.stop(check=False)  # (already stopped is fine)
        shutil.rmtree(self.dir, ignore_errors=True)
