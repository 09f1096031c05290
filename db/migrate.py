"""Run Alembic migrations from Python (used by `dobae db` and the tests).

Alembic is imported only when a schema changes or a revision must be checked: importing it costs
~0.5 s (every dialect's DDL module), which every command and crawl paid at start for
`ensure_schema`'s "already at head" answer. That answer now comes from the migration files and the
`alembic_version` row directly (`_schema_is_at_head`), with Alembic deciding whenever it is unsure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

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
        from alembic import command

        command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    url = _url(url)
    with schema_lock(url):
        from alembic import command

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
    if _schema_is_at_head(url):
        return
    head = head_revision()
    if current_revision(url) == head:
        return
    with schema_lock(url):
        current = current_revision(url)  # another process may have upgraded it while we waited
        if current != head:
            check_known(current, url)
            from alembic import command

            command.upgrade(alembic_config(url), "head")


_REVISION = re.compile(r"^revision(?:\s*:\s*[^=]+)?\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.M)
_DOWN = re.compile(r"^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(None|['\"]([^'\"]+)['\"])\s*$", re.M)


def head_from_files() -> str | None:
    """The one head of the migration files, read from their `revision = "…"` and
    `down_revision = "…"` lines without importing Alembic; None when a file does not read that
    plainly (a tuple, a merge, two heads): then Alembic answers. `tests/test_db_schema.py` checks
    it against Alembic's head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(VERSIONS.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION.findall(text), _DOWN.findall(text)
        if len(rev) != 1 or len(down) != 1:
            return None
        revisions.add(rev[0])
        if down[0][0] != "None":
            parents.add(down[0][1])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _schema_is_at_head(url: str) -> bool:
    """True only when the database's one `alembic_version` row is the files' head (plain SQL, no
    Alembic); False whenever that is not certain (no table yet, no row, an older revision)."""
    from sqlalchemy import inspect, text

    from db.session import get_engine

    head = head_from_files()
    if head is None:
        return False
    with get_engine(url).connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows == [head]


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
