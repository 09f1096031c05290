"""Shared fixtures. Threads pinned to 1 (2-core machines: 2 threads were 14-20x slower under load).

Database tests take the `db_url` fixture: it runs each test on a migrated SQLite file and, when
`DOBAE_TEST_DATABASE_URL` points at PostgreSQL (as `.ci/run` sets it), on PostgreSQL too.
In CI (`CI=true`) a missing PostgreSQL URL is an error, never a skip.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
    os.environ.setdefault(_var, "1" if _var != "TOKENIZERS_PARALLELISM" else "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

PG_URL = os.environ.get("DOBAE_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    if PG_URL or IN_CI:
        params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    return params


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    from db.migrate import upgrade
    from db.session import dispose_engines

    path = tmp_path_factory.mktemp("dbtemplate") / "template.db"
    upgrade(f"sqlite:///{path}")
    dispose_engines()
    return path


@pytest.fixture(scope="session")
def _postgres_migrated() -> str:
    if not PG_URL:
        pytest.fail("CI=true but DOBAE_TEST_DATABASE_URL is not set: .ci/run must start PostgreSQL")
    from db.migrate import downgrade, upgrade

    downgrade(PG_URL, "base")  # a leftover schema from an earlier run must not leak into this one
    upgrade(PG_URL)
    return PG_URL


def _truncate_postgres(url: str) -> None:
    from sqlalchemy import text

    from db.models import Base
    from db.session import get_engine

    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with get_engine(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=_backends())
def db_url(request, tmp_path, monkeypatch) -> str:
    """A freshly migrated, empty database URL; also exported as DOBAE_DATABASE_URL for the CLI."""
    from db.session import dispose_engines
    from dobae.settings import reset_settings

    if request.param == "sqlite":
        path = tmp_path / "dobae.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("_postgres_migrated")
        _truncate_postgres(url)
    monkeypatch.setenv("DOBAE_DATABASE_URL", url)
    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    yield url
    dispose_engines()
    reset_settings()


@pytest.fixture
def sqlite_url(tmp_path, monkeypatch, _sqlite_template) -> str:
    """A migrated SQLite database only (for tests that are not about the database backend)."""
    from db.session import dispose_engines
    from dobae.settings import reset_settings

    path = tmp_path / "dobae.db"
    shutil.copy(_sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DOBAE_DATABASE_URL", url)
    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    yield url
    dispose_engines()
    reset_settings()


@pytest.fixture
def cli(capsys):
    """Run `dobae ARGS` in-process; returns (exit code, stdout, stderr)."""
    from dobae.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
