"""Eight `dobae` commands at once on a brand-new database — three imports (two of them the first
imports of two different files into the same source), two exports, two crawls and an augmentation —
all exit 0 with the right counts, on SQLite and on PostgreSQL. The two crawls write one source and
share questions (both keywords list 7 of them). Before: the schema was created by
several processes at once ("table alembic_version already exists") and the two first imports
clashed on the `sources` row ("another import of the same rows finished first").

Rounds: `DOBAE_CONCURRENCY_ROUNDS` (default 1: a round is 8 Python processes, 10–70 s on 2 shared
cores); `pytest -m slow` runs the 20-round version."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from crawler.sandbox import Site, serve_sandbox
from db.models import Origin, QAPair, Question, Source
from db.session import dispose_engines, session_scope

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "db" / "sample" / "train_sample.csv"
PG_URL = os.environ.get("DOBAE_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
ROUNDS = int(os.environ.get("DOBAE_CONCURRENCY_ROUNDS", "1"))
CRAWL = ["--no-throttle", "--set", "RETRY_BACKOFF_BASE=0.05", "--set", "LOG_LEVEL=WARNING"]


def backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    if PG_URL or IN_CI:
        params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    return params


def split_sample(folder: Path) -> tuple[Path, Path, int, int]:
    """Two DACON-format files with no row in common (the sample's first and second half)."""
    with SAMPLE.open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    half = len(body) // 2
    paths = []
    for name, part in (("a", body[:half]), ("b", body[half:])):
        path = folder / f"train_{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([header, *[[f"TRAIN_{name.upper()}{r[0][-3:]}", *r[1:]] for r in part]])
        paths.append(path)
    return paths[0], paths[1], half, len(body) - half


def fresh_database(kind: str, folder: Path, n: int) -> str:
    """A new, empty database (no schema at all): a new empty SQLite file, or an empty PostgreSQL
    schema. The SQLite file exists, as a PostgreSQL database does: the read-only commands (the
    exports) never create a database file, and one started before any writer would refuse a path
    with nothing there (`tests/db/test_cli_hardening.py`)."""
    if kind == "sqlite":
        path = folder / f"round{n}.db"
        path.touch()  # 0 bytes: a valid SQLite database with no table
        return f"sqlite:///{path}"
    if not PG_URL:
        pytest.fail("CI=true but DOBAE_TEST_DATABASE_URL is not set")
    from db.session import get_engine

    with get_engine(PG_URL).begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS concurrency CASCADE"))
        conn.execute(text("CREATE SCHEMA concurrency"))
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3Dconcurrency"


def commands(base: str, a: Path, b: Path, out: Path) -> list[list[str]]:
    dobae = [sys.executable, "-m", "dobae.cli"]
    return [
        [*dobae, "import", "dacon", str(a)],
        [*dobae, "import", "dacon", str(b)],
        [*dobae, "import", "dacon", "--sample"],
        [*dobae, "export", "--format", "jsonl", "--out", str(out / "all.jsonl")],
        [*dobae, "export", "--format", "csv", "--out", str(out / "all.csv")],
        [*dobae, "crawl", "run", "ohouse", "--base-url", base, "--query", "곰팡이", *CRAWL],
        [*dobae, "crawl", "run", "ohouse", "--base-url", base, "--query", "벽지", *CRAWL],  # same source
        [*dobae, "augment", "compound", "--limit", "5"],
    ]


def run_round(cmds: list[list[str]], url: str, tmp: Path) -> list[tuple[list[str], int, str]]:
    env = {
        **os.environ,
        "DOBAE_DATABASE_URL": url,
        "DOBAE_DATA_DIR": str(tmp / "data"),
        "PYTHONUNBUFFERED": "1",
    }
    procs = [
        subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for c in cmds
    ]
    return [(c, p.wait(timeout=300), p.stderr.read()) for c, p in zip(cmds, procs, strict=True)]


def why(stderr: str) -> str:
    """The line of a failed command's stderr that says what went wrong."""
    lines = [line for line in stderr.splitlines() if "rror" in line] or stderr.splitlines() or [""]
    return lines[-1][:300]


def check_round(kind: str, rounds: int, tmp_path: Path) -> None:
    a, b, na, nb = split_sample(tmp_path)
    site = Site(late_post=False, slow_s=0.1)  # every question listed from the start: fixed counts
    wanted = {q: {str(x.id) for x in site.listed(query=q) if x.is_live} for q in ("곰팡이", "벽지")}
    took = []
    with serve_sandbox(site=site) as base:
        for n in range(rounds):
            url = fresh_database(kind, tmp_path, n)
            out = tmp_path / f"out{n}"
            out.mkdir()
            t0 = time.monotonic()
            results = run_round(commands(base, a, b, out), url, tmp_path)
            took.append(time.monotonic() - t0)
            failed = [(" ".join(c[3:6]), rc, why(err)) for c, rc, err in results if rc != 0]
            assert not failed, f"round {n}: {failed}"
            with session_scope(url) as s:
                dacon = s.scalar(
                    select(func.count()).select_from(QAPair).where(QAPair.origin == Origin.dacon)
                    .where(QAPair.key.startswith("dacon:"))
                )  # fmt: skip
                assert dacon == 10 * (na + nb), (n, dacon)  # 2 questions × 5 answers per row
                assert s.scalar(select(func.count()).select_from(Source).where(Source.name == "dacon")) == 1
                live = set(
                    s.scalars(
                        select(Question.external_id).join(Source)
                        .where(Source.name == "ohouse", Question.is_deleted.is_(False))
                    )
                )  # fmt: skip
                assert live == wanted["곰팡이"] | wanted["벽지"], n  # one source, some questions in both
            assert (out / "all.jsonl").exists() and (out / "all.csv").exists()
            dispose_engines()
    if kind == "postgres":
        from db.session import get_engine

        with get_engine(PG_URL).begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS concurrency CASCADE"))
    print(f"{kind}: {rounds} round(s) of 8 commands, {min(took):.1f}–{max(took):.1f} s per round")


@pytest.mark.parametrize("kind", backends())
def test_eight_commands_at_once_on_a_new_database(kind, tmp_path):
    check_round(kind, ROUNDS, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 20 rounds: ~50–100 s each on 2 shared cores, past the suite's 600 s
@pytest.mark.parametrize("kind", backends())
def test_eight_commands_at_once_on_a_new_database_20_rounds(kind, tmp_path):
    check_round(kind, 20, tmp_path)
