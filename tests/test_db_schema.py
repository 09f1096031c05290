"""The ORM models and the Alembic migrations agree, and downgrade → upgrade round-trips."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from db.migrate import downgrade, head_revision, upgrade
from db.models import Base
from db.session import get_engine


def _diff(url: str) -> list:
    with get_engine(url).connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(mc, Base.metadata)]


def test_models_match_migrations(db_url):
    assert _diff(db_url) == []


def test_downgrade_upgrade_round_trip(db_url):
    engine = get_engine(db_url)
    before = set(inspect(engine).get_table_names())
    assert {"qa_pairs", "reviews", "review_events", "questions", "answers", "llm_cache"} <= before
    downgrade(db_url, "base")
    engine.dispose()
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(db_url)
    engine.dispose()
    assert set(inspect(engine).get_table_names()) == before
    assert _diff(db_url) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM review_queue")).scalar() == 0


def test_sqlite_pragmas(sqlite_url):
    with get_engine(sqlite_url).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar().lower() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_a_revision_from_a_newer_checkout_is_a_clear_error(db_url):
    import pytest

    from db.migrate import ensure_schema
    from foundation.errors import ConfigError

    upgrade(db_url)
    with get_engine(db_url).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(ConfigError, match="9999_from_the_future.*newer dobae"):
        ensure_schema(db_url)
    with pytest.raises(ConfigError, match="git pull"):
        upgrade(db_url)
    with get_engine(db_url).begin() as conn:  # nothing was touched: put it back so teardown can drop it
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": head_revision()})


def test_a_populated_database_from_0004_upgrades_keeping_every_row(db_url):
    """A database with data from the previous release (schema 0004) upgrades to head: SQLite's
    table rebuilds (batch mode) must not trip over foreign keys that reference the rebuilt table
    (questions ← answers, qa_pairs ← reviews), and no row is lost."""
    engine = get_engine(db_url)
    downgrade(db_url, "0004")
    engine.dispose()
    now = "2024-01-01 00:00:00"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO sources (id, name, kind, created_at) VALUES (1, 'ohouse', 'site', :t)"),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO questions (id, source_id, external_id, keywords, is_deleted, first_seen_at, "
                "last_seen_at, updated_at) VALUES (1, 1, 'q1', '[]', false, :t, :t, :t)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO qa_pairs (id, key, question_text, answer_text, origin, group_id, version, "
                "created_at, updated_at) VALUES (1, 'k1', '벽지가 들떠요', '초배를 다시 합니다.', 'dacon', 'g1', 1, :t, :t)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO reviews (pair_id, status, reasons, updated_at) VALUES (1, 'approved', '[]', :t)"
            ),
            {"t": now},
        )
    upgrade(db_url)
    engine.dispose()
    assert _diff(db_url) == []
    with engine.connect() as conn:
        counts = [
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("questions", "qa_pairs", "reviews")
        ]
        assert counts == [1, 1, 1]
        assert conn.execute(text("SELECT comments_incomplete FROM questions")).scalar() in (False, 0)
        assert conn.execute(text("SELECT status FROM review_queue WHERE pair_id = 1")).scalar() == "approved"


def test_a_populated_database_from_0007_gets_the_hash_of_its_judged_texts(db_url, tmp_path):
    """Migration 0008: verdicts given before it cover the text stored at upgrade time (the approved
    export is unchanged); pending pairs have no verdict, so no hash."""
    from db.export import export_pairs
    from db.review import text_hash

    engine = get_engine(db_url)
    downgrade(db_url, "0007")
    engine.dispose()
    now = "2024-01-01 00:00:00"
    with engine.begin() as conn:
        for pid, status in ((1, "approved"), (2, "pending"), (3, "needs_review")):
            conn.execute(
                text(
                    "INSERT INTO qa_pairs (id, key, question_text, answer_text, origin, group_id, version, "
                    "created_at, updated_at) VALUES (:id, :key, '벽지가 들떠요', :a, 'crawl', 'g1', 1, :t, :t)"
                ),
                {"id": pid, "key": f"k{pid}", "a": f"초배를 다시 합니다 {pid}.", "t": now},
            )
            conn.execute(
                text("INSERT INTO reviews (pair_id, status, reasons, updated_at) VALUES (:id, :s, '[]', :t)"),
                {"id": pid, "s": status, "t": now},
            )
    upgrade(db_url)
    engine.dispose()
    assert _diff(db_url) == []
    with engine.connect() as conn:
        got = dict(conn.execute(text("SELECT pair_id, text_sha256 FROM reviews ORDER BY pair_id")).all())
    assert got == {
        1: text_hash("벽지가 들떠요", "초배를 다시 합니다 1."),
        2: None,
        3: text_hash("벽지가 들떠요", "초배를 다시 합니다 3."),
    }
    assert export_pairs(tmp_path / "approved.jsonl", url=db_url).rows == 1


def test_the_head_read_from_the_files_is_alembics_head():
    """`ensure_schema`'s fast path reads the head from the migration files without Alembic."""
    from db.migrate import head_from_files

    assert head_from_files() == head_revision() is not None


def test_ensure_schema_at_head_imports_no_alembic_and_an_older_schema_is_upgraded(db_url):
    """At head, a fresh process answers "nothing to do" without importing Alembic (~0.5 s at the
    start of every command and crawl); a database one revision behind is still upgraded."""
    import subprocess
    import sys

    from db.migrate import current_revision, ensure_schema

    code = (
        "import sys; from db.migrate import ensure_schema; ensure_schema(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    run = subprocess.run([sys.executable, "-c", code, db_url], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stderr[-3000:]
    previous = downgrade(db_url, "-1") or current_revision(db_url)
    assert previous != head_revision()
    ensure_schema(db_url)
    assert current_revision(db_url) == head_revision() and _diff(db_url) == []
