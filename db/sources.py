"""The `sources` row of a site or data set, created on first use by whoever gets there first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Source, utcnow


def ensure_source(session: Session, name: str, kind: str, base_url: str | None = None) -> int:
    """The id of source `name`, inserted when missing. An upsert (`ON CONFLICT DO NOTHING`): two
    processes that create the same source at once (two first imports, an import and a crawl) both
    go on with the one row, instead of one failing on the unique name."""
    sid = session.scalar(select(Source.id).where(Source.name == name))
    if sid is not None:
        return sid
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(Source)
        .values(name=name, kind=kind, base_url=base_url, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return session.scalars(select(Source.id).where(Source.name == name)).one()
