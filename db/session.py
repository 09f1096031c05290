"""Engines and sessions. SQLite gets WAL, foreign keys and a busy timeout on every connection.

A database that cannot be used (a URL that does not parse, a server that is down, a file that is
not an SQLite database) is a `ConfigError` of one line naming the URL, password masked, and what
to do: `parse_url` when the engine is made, `database_error` for the driver's errors (the CLI
turns the driver's connection and file errors into it). Read-only commands call `require_database` first, so a mistyped
SQLite path is reported instead of being created as an empty database.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from foundation.errors import ConfigError
from foundation.settings import mask_url

# how long an SQLite writer waits for another's write lock before `database is locked`;
# DOBAE_SQLITE_BUSY_TIMEOUT_MS shortens it (the crawl's lock-held fault test)
SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("DOBAE_SQLITE_BUSY_TIMEOUT_MS") or 30_000)


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


URL_HELP = (
    "set DOBAE_DATABASE_URL to sqlite:///PATH/dobae.db or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB "
    "(or unset it to use DATA_DIR/dobae.db)"
)


def parse_url(url: str) -> URL:
    """The parsed URL, or a ConfigError naming it (password masked) and the accepted forms."""
    try:
        u = make_url(url)
        u.get_dialect()  # an unknown scheme (`postgres://`, `mysq://`) fails here, not at the first query
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(
            f"the database URL {mask_url(url)!r} is not usable ({_first_line(exc)}); {URL_HELP}"
        ) from None
    return u


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


_HINTS = (  # (text in the driver's message, what it means and what to do)
    (
        ("connection refused", "could not connect", "no route to host", "timeout expired", "timed out"),
        "cannot reach the database server: start PostgreSQL there, or point DOBAE_DATABASE_URL at a running one",
    ),
    (
        ("could not translate host name", "name or service not known", "nodename nor servname"),
        "unknown host name: fix the host in DOBAE_DATABASE_URL",
    ),
    (
        ("password authentication failed", "no password supplied", 'role "'),
        "the server refused the login: check the user and password in DOBAE_DATABASE_URL",
    ),
    (
        ('database "',),
        "create that database (`createdb NAME`) or fix the name in DOBAE_DATABASE_URL",
    ),
    (
        ("file is not a database", "database disk image is malformed", "not a database"),
        "that file is not an SQLite database (or it is damaged): point DOBAE_DATABASE_URL or "
        "DOBAE_DATA_DIR at the right file, or move it away to start a new database",
    ),
    (
        ("unable to open database file",),
        "the SQLite file cannot be opened: check the path and its folder's permissions",
    ),
    (
        ("database is locked",),
        "another process is writing to this SQLite database: wait and run the command again, "
        "or use PostgreSQL for concurrent writers",
    ),
)


def database_error(url: str, exc: DBAPIError) -> ConfigError:
    """One line for a driver error: the masked URL, the driver's first line and what to do."""
    first = _first_line(exc)
    low = first.lower()
    hint = next((h for needles, h in _HINTS if any(n in low for n in needles)), "")
    if hint.startswith("create") and "does not exist" not in low:
        hint = ""
    where = mask_url(url)
    return ConfigError(f"database {where}: {first}" + (f"; {hint}" if hint else ""))


def require_database(url: str | None = None) -> str:
    """For read-only commands: the URL, or a ConfigError when its SQLite file does not exist
    (a mistyped DOBAE_DATABASE_URL or DOBAE_DATA_DIR must not create an empty database)."""
    if url is None:
        from foundation.settings import get_settings

        url = get_settings().db_url
    u = parse_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        path = Path(u.database)
        if not path.is_file():
            raise ConfigError(
                f"no database at {path} ({mask_url(url)}): check DOBAE_DATABASE_URL / DOBAE_DATA_DIR, "
                "or create one with `dobae db upgrade` (or `dobae import dacon --sample`)"
            )
    return url


def make_engine(url: str) -> Engine:
    """An engine for `url`; creates the SQLite file's folder when needed."""
    u = parse_url(url)
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
        from foundation.settings import get_settings

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
