"""Engines and sessions. SQLite gets WAL, foreign keys and a busy timeout on every connection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _json_dumps(value) -> str:
    """JSON columns keep Korean readable in SQL (`["들뜸"]`, not `["\\ub4e4..."]`)."""
    return json.dumps(value, ensure_ascii=False)


def make_engine(url: str) -> Engine:
    """An engine for `url`; creates the SQLite file's folder when needed."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            u, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, json_serializer=_json_dumps
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(u, pool_pre_ping=True, json_serializer=_json_dumps)


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for `url` (default: the settings' database URL)."""
    if url is None:
        from dobae.settings import get_settings

        url = get_settings().db_url
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One transaction: commits on success, rolls back (and re-raises) on any error."""
    session = session_factory(url)()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


def dispose_engines() -> None:
    """Close every pooled connection (tests, forked workers)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()
