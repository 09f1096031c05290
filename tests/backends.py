"""Test parametrisation shared across folders (tests/ is on sys.path: the root conftest lives here)."""

from __future__ import annotations

import os

import pytest

# Several writer processes at once need PostgreSQL (SQLite has one writer): such a test takes the
# `db_url` fixture on PostgreSQL alone (in CI always; elsewhere when DOBAE_TEST_DATABASE_URL is set),
# never a SQLite run that could only skip.
HAS_POSTGRES = bool(os.environ.get("DOBAE_TEST_DATABASE_URL") or os.environ.get("CI", "").lower() == "true")

POSTGRES_ONLY = pytest.mark.parametrize(
    "db_url",
    [pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)] if HAS_POSTGRES else [],
    indirect=True,
)


def one_backend_each(argnames: str, cases: list[tuple], ids: list[str]):
    """Parametrise `argnames` and `db_url` together: each case runs on one database, SQLite and
    PostgreSQL in turn (all on SQLite where PostgreSQL is not available). For tests whose subject is
    not the database (an era's markup, a redesign): every case still runs, and both databases see
    some of them, at half the cost of every case on both."""
    params = []
    for i, (case, name) in enumerate(zip(cases, ids, strict=True)):
        backend = "postgres" if HAS_POSTGRES and i % 2 else "sqlite"
        marks = [pytest.mark.postgres] if backend == "postgres" else []
        params.append(pytest.param(*case, backend, id=f"{backend}-{name}", marks=marks))
    return pytest.mark.parametrize(f"{argnames},db_url", params, indirect=["db_url"])
