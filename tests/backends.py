"""Test parametrisation shared across folders (tests/ is on sys.path: the root conftest lives here)."""

from __future__ import annotations

import os

import pytest

# Several writer processes at once need PostgreSQL (SQLite has one writer): such a test takes the
# `db_url` fixture on PostgreSQL alone (in CI always; elsewhere when DOBAE_TEST_DATABASE_URL is set),
# never a SQLite run that could only skip.
POSTGRES_ONLY = pytest.mark.parametrize(
    "db_url",
    [pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]
    if os.environ.get("DOBAE_TEST_DATABASE_URL") or os.environ.get("CI", "").lower() == "true"
    else [],
    indirect=True,
)
