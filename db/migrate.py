"""Run Alembic migrations from Python (used by `dobae db` and the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str | None = None) -> Config:
    ini = ROOT / "alembic.ini"
    cfg = Config(str(ini)) if ini.exists() else Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    if url:
        cfg.attributes["url"] = url
    return cfg


def _url(url: str | None) -> str:
    if url is None:
        from foundation.settings import get_settings

        url = get_settings().db_url
    return url


@contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Only one process changes the schema at a time; the others wait here, then find it done.

    SQLite: a file lock beside the database file (`dobae.db.migrate.lock`); PostgreSQL: a
    session-level `pg_advisory_lock` on a connection of its own (released when it closes, also if
    the process is killed). Two commands started at once on a new database used to both create
    the tables ("table alembic_version already exists")."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        if not u.database or u.database == ":memory:":
            yield
            return
        from filelock import FileLock

        path = Path(u.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".migrate.lock"):
            yield
        return
    if backend == "postgresql":
        from sqlalchemy import text

        from db.session import get_engine

        with get_engine(url).connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                conn.commit()
        return
    yield


MIGRATION_LOCK_KEY = 0x646F626165  # "dobae": the advisory lock id of schema changes


def upgrade(url: str | None = None, revision: str = "head") -> None:
    url = _url(url)
    with schema_lock(url):
        check_known(current_revision(url), url)
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    url = _url(url)
    with schema_lock(url):
        command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from db.session import get_engine

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def ensure_schema(url: str | None = None) -> None:
    """Upgrade to head unless the database is already there (cheap check first)."""
    url = _url(url)
    head = head_revision()
    if current_revision(url) == head:
        return
    with schema_lock(url):
        current = current_revision(url)  # another process may have upgraded it while we waited
        if current != head:
            check_known(current, url)
            command.upgrade(alembic_config(url), "head")


def check_known(revision: str | None, url: str) -> None:
    """A database upgraded by a newer dobae carries a revision this checkout does not have: say so
    (Alembic's own message is a traceback: "Can't locate revision …")."""
    from alembic.script import ScriptDirectory

    from foundation.errors import ConfigError

    if revision is None:
        return
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if revision not in known:
        from sqlalchemy.engine import make_url

        raise ConfigError(
            f"the database {make_url(url).render_as_string(hide_password=True)} is at schema revision {revision!r}, which this checkout does "
            f"not know (newest here: {head_revision()!r}): it was upgraded by a newer dobae. Update this "
            "checkout (git pull), or point DOBAE_DATABASE_URL / DOBAE_DATA_DIR at another database."
        )
