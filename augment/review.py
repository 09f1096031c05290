"""The machine's review verdict on a generated pair, through the foundation's single review API."""

from __future__ import annotations

from sqlalchemy.orm import Session

from db.models import QAPair, ReviewStatus
from db.review import set_review

ACTOR = "machine:augment"


def machine_review(
    session: Session, pair: QAPair, status: ReviewStatus, reasons: list[str], note: str | None = None
) -> None:
    """Give the freshly inserted `pair` its gate verdict (Review + ReviewEvent) in the caller's transaction."""
    session.flush()  # the pair needs its id
    set_review(session, pair.id, status, reasons=reasons, actor=ACTOR, note=note)
