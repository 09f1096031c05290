"""Reading back what the review page wrote."""

from __future__ import annotations


def events(url: str, pair_id: int) -> list[tuple[str, str, list[str]]]:
    """(actor, to_status, changed fields) of a pair's review events, oldest first."""
    from sqlalchemy import select

    from db.models import ReviewEvent
    from db.session import session_scope

    with session_scope(url) as s:
        return [
            (e.actor, e.to_status, sorted(e.changes))
            for e in s.scalars(
                select(ReviewEvent).where(ReviewEvent.pair_id == pair_id).order_by(ReviewEvent.id)
            )
        ]


def pair_state(url: str, pair_id: int) -> tuple[str, str, str, str | None]:
    """(status, reviewer, answer, note) as stored."""
    from db.models import QAPair, Review
    from db.session import session_scope

    with session_scope(url) as s:
        p, r = s.get(QAPair, pair_id), s.get(Review, pair_id)
        return (
            r.status.value if r else "pending",
            r.reviewer if r else "",
            p.answer_text,
            r.note if r else None,
        )
