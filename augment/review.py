"""The machine's review verdict on a generated pair (Review row + ReviewEvent), in the caller's session.

The foundation's single review API (`db.review.set_review`) is used when it exists; until then
this writes the same two rows directly, so there is one place to switch.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from db.models import QAPair, Review, ReviewEvent, ReviewStatus

ACTOR = "machine:augment"


def machine_review(
    session: Session, pair: QAPair, status: ReviewStatus, reasons: list[str], note: str | None = None
) -> None:
    """Give the freshly inserted `pair` its gate verdict (flushes to get the pair's id)."""
    try:
        from db.review import set_review  # type: ignore[import-not-found]
    except ImportError:
        set_review = None
    session.flush()
    if set_review is not None:
        set_review(session, pair.id, status, reasons=reasons, actor=ACTOR, note=note)
        return
    session.add(Review(pair_id=pair.id, status=status, reasons=list(reasons), reviewer=ACTOR, note=note))
    session.add(
        ReviewEvent(
            pair_id=pair.id,
            from_status=None,
            to_status=status.value,
            reasons=list(reasons),
            actor=ACTOR,
            note=note,
        )
    )
