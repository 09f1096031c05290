"""The review queue as a person sees it: filtered pairs, counts per reason, one pair's card and the
review progress (reviewed today, left in the queue, per reviewer). Read-only: every change goes
through `db.review`.

`progress` is the one place the progress numbers are computed: `dobae review serve`, `dobae status`
and `dobae report` all show what it returns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.models import (
    Answer,
    DocChunk,
    Document,
    Generation,
    QAPair,
    Question,
    Review,
    ReviewEvent,
    ReviewStatus,
)
from db.review import text_hash

SORTS = {
    "id": "oldest first",
    "-id": "newest first",
    "category": "by category",
    "updated": "latest change first",
}
WAITING = (ReviewStatus.needs_review.value, ReviewStatus.pending.value)  # what a person still has to judge


def is_person(actor: str | None) -> bool:
    """A person's review, not a machine's (`machine`, `machine:curate`, …) or an importer's (`dacon`)."""
    return bool(actor) and not str(actor).startswith("machine") and actor != "dacon"


def effective_status(review: Review | None, question: str, answer: str) -> str:
    """The status as the export counts it: an approval given on another text than the pair holds now
    is `pending` (see `db.review.holds`)."""
    if review is None:
        return ReviewStatus.pending.value
    return _effective(review.status, review.text_sha256, question, answer)


@dataclass(frozen=True)
class QueueFilter:
    """Empty fields match everything; `status` is the effective status (or "" for any)."""

    origin: str = ""
    status: str = ReviewStatus.needs_review.value
    reason: str = ""
    category: str = ""
    operation: str = ""
    sort: str = "id"

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class QueueRow:
    id: int
    version: int
    origin: str
    category: str
    operation: str
    status: str
    reasons: list[str]
    reviewer: str
    question: str
    answer: str
    updated: datetime | None


@dataclass
class Queue:
    rows: list[QueueRow]  # the filtered, sorted pairs
    reason_counts: list[tuple[str, int]]  # per reason, over the filter without its reason
    options: dict[str, list[str]] = field(default_factory=dict)  # values to filter by


def _status_clause(status: str):
    """A SQL condition that keeps every pair whose effective status can be `status` (the text
    hash then decides approved against pending in Python)."""
    if status in (ReviewStatus.needs_review.value, ReviewStatus.rejected.value):
        return Review.status == status
    if status == ReviewStatus.approved.value:
        return Review.status == ReviewStatus.approved
    if status == ReviewStatus.pending.value:
        return or_(Review.status.is_(None), Review.status.in_([ReviewStatus.pending, ReviewStatus.approved]))
    return None


def load_queue(session: Session, f: QueueFilter) -> Queue:
    """Every pair matching `f`: origin, category, operation and stored status in SQL; the effective
    status (the text hash decides whether an approval still holds) and the reason after reading."""
    stmt = (
        select(
            QAPair.id, QAPair.version, QAPair.origin, QAPair.category, QAPair.question_text,
            QAPair.answer_text, Review.status, Review.reasons, Review.reviewer, Review.text_sha256,
            Review.updated_at, Generation.operation,
        )
        .outerjoin(Review, Review.pair_id == QAPair.id)
        .outerjoin(Generation, Generation.id == QAPair.generation_id)
    )  # fmt: skip
    if f.origin:
        stmt = stmt.where(QAPair.origin == f.origin)
    if f.category:
        stmt = stmt.where(QAPair.category == f.category)
    if f.operation:
        stmt = stmt.where(Generation.operation == f.operation)
    if f.status:
        clause = _status_clause(f.status)
        if clause is None:
            return Queue([], [], _options(session))
        stmt = stmt.where(clause)
    rows: list[QueueRow] = []
    for pid, version, origin, category, q, a, stored, reasons, reviewer, sha, updated, op in session.execute(
        stmt.order_by(QAPair.id)
    ):
        status = _effective(stored, sha, q, a)
        if f.status and status != f.status:
            continue
        rows.append(
            QueueRow(
                id=pid,
                version=version,
                origin=origin.value,
                category=category or "",
                operation=op or "",
                status=status,
                reasons=[str(r) for r in (reasons or [])],
                reviewer=reviewer or "",
                question=q,
                answer=a,
                updated=updated,
            )
        )
    counts = Counter(r for row in rows for r in row.reasons)
    if f.reason:
        rows = [row for row in rows if f.reason in row.reasons]
    if f.sort == "-id":
        rows.sort(key=lambda r: -r.id)
    elif f.sort == "category":
        rows.sort(key=lambda r: (r.category, r.id))
    elif f.sort == "updated":
        rows.sort(key=lambda r: (r.updated is not None, _utc(r.updated), r.id), reverse=True)
    return Queue(rows, sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])), _options(session))


def _effective(stored: ReviewStatus | None, sha: str | None, question: str, answer: str) -> str:
    """`effective_status` from columns: an approval holds only on the text its hash names."""
    if stored is None:
        return ReviewStatus.pending.value
    if stored == ReviewStatus.approved and (sha is None or sha != text_hash(question, answer)):
        return ReviewStatus.pending.value
    return stored.value


def _utc(dt: datetime | None) -> datetime:
    if dt is None:
        return datetime.min.replace(tzinfo=UTC)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)  # SQLite gives naive UTC


def _options(session: Session) -> dict[str, list[str]]:
    return {
        "origin": sorted({o.value for o in session.scalars(select(QAPair.origin).distinct())}),
        "status": [s.value for s in ReviewStatus],
        "category": sorted({c for c in session.scalars(select(QAPair.category).distinct()) if c}),
        "operation": sorted(
            {
                o
                for o in session.scalars(
                    select(Generation.operation)
                    .join(QAPair, QAPair.generation_id == Generation.id)
                    .distinct()
                )
                if o
            }
        ),
    }


# --------------------------------------------------------------------------- one pair's card


def card(session: Session, pair_id: int) -> dict[str, Any] | None:
    """Everything a reviewer needs beside a pair: its parent (generated pairs), its crawled page
    (URL, author pseudonyms, signals) or document chunk, the generation, and its history."""
    pair = session.get(QAPair, pair_id)
    if pair is None:
        return None
    review = session.get(Review, pair_id)
    out: dict[str, Any] = {
        "id": pair.id,
        "key": pair.key,
        "version": pair.version,
        "origin": pair.origin.value,
        "category": pair.category or "",
        "group_id": pair.group_id,
        "question": pair.question_text,
        "answer": pair.answer_text,
        "status": effective_status(review, pair.question_text, pair.answer_text),
        "reasons": [str(r) for r in (review.reasons or [])] if review else [],
        "note": (review.note or "") if review else "",
        "reviewer": (review.reviewer or "") if review else "",
        "parent": None,
        "page": None,
        "chunk": None,
        "generation": None,
    }
    if pair.parent_id is not None:
        parent = session.get(QAPair, pair.parent_id)
        if parent is not None:
            out["parent"] = {"id": parent.id, "question": parent.question_text, "answer": parent.answer_text}
    if pair.question_id is not None:
        q = session.get(Question, pair.question_id)
        a = session.get(Answer, pair.answer_id) if pair.answer_id is not None else None
        if q is not None:
            signals = []
            if a is not None:
                if a.is_adopted:
                    signals.append("adopted")
                if a.author_badge:
                    signals.append(f"badge: {a.author_badge}")
                if a.like_count:
                    signals.append(f"{a.like_count} likes")
            out["page"] = {
                "url": q.url or "",
                "title": q.title or "",
                "body": q.body or "",
                "asker": q.author_pseudonym or "",
                "author": (a.author_pseudonym or "") if a else "",
                "comment": (a.body or "") if a else "",
                "signals": signals,
            }
    if pair.chunk_id is not None:
        chunk = session.get(DocChunk, pair.chunk_id)
        if chunk is not None:
            doc = session.get(Document, chunk.document_id)
            out["chunk"] = {
                "text": chunk.text,
                "page": chunk.page,
                "document": (doc.title or doc.source) if doc else "",
            }
    if pair.generation_id is not None:
        gen = session.get(Generation, pair.generation_id)
        if gen is not None:
            out["generation"] = {"operation": gen.operation, "model": gen.model}
    out["history"] = [
        {
            "at": e.at,
            "actor": e.actor,
            "from": e.from_status or "",
            "to": e.to_status,
            "changed": sorted(e.changes or {}),
            "note": e.note or "",
        }
        for e in session.scalars(
            select(ReviewEvent).where(ReviewEvent.pair_id == pair_id).order_by(ReviewEvent.id)
        )
    ]
    return out


def last_event_id(session: Session, pair_id: int) -> int:
    """The id of the pair's latest review event (0: none): what a card was read at."""
    return session.scalar(select(func.max(ReviewEvent.id)).where(ReviewEvent.pair_id == pair_id)) or 0


# --------------------------------------------------------------------------- progress


class ReviewerCount(NamedTuple):
    reviewer: str
    today: int  # pairs this reviewer changed today
    total: int  # pairs this reviewer changed in all


@dataclass
class ReviewProgress:
    day: str  # the UTC day "today" means, YYYY-MM-DD
    reviewed_today: int  # pairs a person changed today
    needs_review: int
    pending: int
    per_reviewer: list[ReviewerCount]  # most today first, then most in all

    @property
    def left(self) -> int:
        """Pairs still waiting for a verdict: needs_review plus pending."""
        return self.needs_review + self.pending


def progress(session: Session, now: datetime | None = None) -> ReviewProgress:
    """Review progress: pairs a person reviewed today (UTC; each pair once however often it was
    changed), the pairs left in the queue, and per reviewer the pairs reviewed today and in all.
    Machine verdicts (`machine…`) and importers (`dacon`) are not reviewers."""
    now = now or datetime.now(UTC)
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    today: dict[str, set[int]] = {}
    total: dict[str, set[int]] = {}
    people = select(ReviewEvent.actor, ReviewEvent.pair_id, ReviewEvent.at).where(
        ~ReviewEvent.actor.startswith("machine"), ReviewEvent.actor != "dacon"
    )
    for actor, pair_id, at in session.execute(people):
        if not is_person(actor):
            continue
        total.setdefault(actor, set()).add(pair_id)
        if start <= _utc(at) < end:
            today.setdefault(actor, set()).add(pair_id)
    waiting: Counter = Counter()
    for stored, n in session.execute(
        select(Review.status, func.count())
        .select_from(QAPair)
        .outerjoin(Review, Review.pair_id == QAPair.id)
        .where(or_(Review.status.is_(None), Review.status != ReviewStatus.approved))
        .group_by(Review.status)
    ):
        waiting[(stored or ReviewStatus.pending).value] += n
    approved = select(Review.text_sha256, QAPair.question_text, QAPair.answer_text).join(
        QAPair, QAPair.id == Review.pair_id
    )
    for sha, q, a in session.execute(approved.where(Review.status == ReviewStatus.approved)):
        if _effective(ReviewStatus.approved, sha, q, a) == ReviewStatus.pending.value:
            waiting[ReviewStatus.pending.value] += 1  # approved on another text: pending again
    per = sorted(
        (ReviewerCount(a, len(today.get(a, ())), len(ids)) for a, ids in total.items()),
        key=lambda r: (-r.today, -r.total, r.reviewer),
    )
    return ReviewProgress(
        day=start.date().isoformat(),
        reviewed_today=len(set().union(*today.values())) if today else 0,
        needs_review=waiting[ReviewStatus.needs_review.value],
        pending=waiting[ReviewStatus.pending.value],
        per_reviewer=per,
    )
