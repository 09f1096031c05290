"""A SIGKILL at any moment of `dobae import dacon`, `dobae export` or `dobae review import` costs
nothing: the database holds all of the work or none of it, the `--out` file is the old one or the
complete new one, and running the command again finishes the job without duplicates. Each test
kills a real `dobae` process once it is seen inside its write transaction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from db_helpers import TRAIN_HEADER, train_rows, write_csv
from sqlalchemy import func, select

from db.models import Export, QAPair, ReviewEvent
from db.session import dispose_engines, session_scope

ROOT = Path(__file__).resolve().parents[2]
ROWS = 300  # 3,000 pairs: long enough to be caught inside the write transaction
REVIEWED = 400  # rows of the review file
KILL_AFTER_S = ()  # fixed delays (none by default: timing on shared machines is noise); "writing": inside the write transaction


def _dobae(*args: str, url: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "DOBAE_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "dobae.cli", *args], cwd=cwd, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _kill_after(proc: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL `proc` after `seconds` unless it ended first; True when it was killed."""
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def _count(url, what) -> int:
    dispose_engines()
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(what))


def _writing(url: str, proc: subprocess.Popen, timeout: float = 120, statement: str = "INSERT") -> bool:
    """Wait until `proc` is inside its write transaction (PostgreSQL: a session of this database
    has run an INSERT and its transaction is still open; SQLite: someone holds the write lock, so
    `BEGIN IMMEDIATE` without waiting fails). False when `proc` ended first."""
    import sqlite3

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from db.session import get_engine

    db = make_url(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if db.get_backend_name() == "sqlite":
            probe = sqlite3.connect(db.database, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError:
                return True  # locked: the import's transaction holds the write lock
            finally:
                probe.close()
        else:
            with get_engine(url).connect() as conn:
                busy = conn.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND query ILIKE :stmt "
                    "AND state IN ('active', 'idle in transaction')"
                ), {"stmt": statement + " %"})  # fmt: skip
            if busy:
                return True
        time.sleep(0.002)
    return False


@pytest.mark.parametrize("delay", [*KILL_AFTER_S, "writing"])
def test_killed_import_is_all_or_nothing_and_resumes(db_url, tmp_path, delay):
    train = write_csv(tmp_path / "train.csv", TRAIN_HEADER, train_rows(ROWS))
    proc = _dobae("import", "dacon", str(train), url=db_url, cwd=tmp_path)
    inside = delay == "writing"
    if inside:
        assert _writing(db_url, proc), "the import ended before it was seen writing"
        delay = 0
    killed = _kill_after(proc, delay)
    after_kill = _count(db_url, QAPair)
    assert after_kill in (0, ROWS * 10), f"partial import after a kill at {delay} s"
    if inside:
        assert killed and after_kill == 0, "killed inside its transaction, yet rows were committed"
    rerun = _dobae("import", "dacon", str(train), url=db_url, cwd=tmp_path)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read()
    assert _count(db_url, QAPair) == ROWS * 10 and _count(db_url, ReviewEvent) == ROWS * 10
    print(f"kill at {delay} s: {'killed' if killed else 'finished first'}, {after_kill} pairs after it")


def test_killed_export_leaves_the_old_file_and_a_rerun_writes_the_new_one(db_url, tmp_path):
    from db.dacon import import_dacon

    import_dacon(write_csv(tmp_path / "train.csv", TRAIN_HEADER, train_rows(ROWS)), url=db_url)
    out = tmp_path / "pairs.csv"
    out.write_text("old\n", encoding="utf-8")
    proc = _dobae("export", "--out", str(out), "--force", url=db_url, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if [p for p in tmp_path.iterdir() if p.name.startswith(".pairs.csv.")]:  # the file is being written
            break
        time.sleep(0.002)
    assert _kill_after(proc, 0), "the export ended before it was seen writing"
    assert out.read_text(encoding="utf-8") == "old\n"
    assert _count(db_url, Export) == 0
    # what the kill left: the hidden temporary file beside --out, nothing else
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".pairs.csv.")]
    rerun = _dobae("export", "--out", str(out), "--force", url=db_url, cwd=tmp_path)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read()
    assert out.read_bytes().count(b"\r\n") == ROWS * 10 + 1 and _count(db_url, Export) == 1


def test_killed_review_import_changes_nothing_and_reruns(db_url, tmp_path):
    import csv

    from db.dacon import import_dacon
    from db.export import export_pairs

    import_dacon(write_csv(tmp_path / "train.csv", TRAIN_HEADER, train_rows(ROWS)), url=db_url)
    out = export_pairs(tmp_path / "review.csv", url=db_url).path
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rows = rows[:REVIEWED]
    for r in rows:  # reject them: reviews, events and version bumps, one row at a time, in one transaction
        r["status"], r["reasons"] = "rejected", '["too_short"]'
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    events = _count(db_url, ReviewEvent)
    proc = _dobae("review", "import", str(out), "--reviewer", "kim", url=db_url, cwd=tmp_path)
    assert _writing(db_url, proc, statement="UPDATE"), "the review import ended before it was seen writing"
    assert _kill_after(proc, 0)
    assert _count(db_url, ReviewEvent) == events, "killed inside its transaction, yet events were committed"
    rerun = _dobae("review", "import", str(out), "--reviewer", "kim", url=db_url, cwd=tmp_path)
    assert rerun.wait(timeout=120) == 0, rerun.stderr.read()
    assert _count(db_url, ReviewEvent) == events + REVIEWED
