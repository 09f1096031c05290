"""The one place where review state changes: a pair's `reviews` row plus an append-only `review_events` row.

- `set_review(session, pair_id, status, reasons, actor)`: a verdict (machine gates, a person, an import).
- `apply_change(...)`: the general form that also corrects question/answer texts with an optimistic
  check on `qa_pairs.version`.
- `add_initial_reviews(...)`: the first verdict for many fresh pairs at once (bulk importers).
- `approve_unflagged(origin, …)`: bulk approval of the pairs the machine curated without a flag.

A reviewer's edited export comes back through `db.review_import.import_review_file`, which applies
each row with `apply_change` (also importable from here, as before).

Versioning: `qa_pairs.version` starts at 1 and is bumped by every change after a pair's first
verdict (status, reasons, note or texts), so an export row whose `version` no longer matches was
changed in the database since the export.

A verdict holds for the exact text judged: every verdict stores `text_hash(question, answer)` of
the text it was given on (`reviews.text_sha256`, also on its `review_events` row), and `holds`
tells whether a pair's current text still has that hash. Bulk approval, the approved export and
`dobae augment curate` use a verdict only while it holds; a recrawl that changes a pair's text puts
it back to `pending` (`crawler.pipelines`, logged as `machine:crawl`).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.orm import Session

from db.models import QAPair, Review, ReviewEvent, ReviewStatus, utcnow
from foundation.errors import DobaeError, InputError

_UNSET: Any = object()
STATUSES = ", ".join(s.value for s in ReviewStatus)


class ConflictError(DobaeError):
    """The pair changed in the database since the caller read it (optimistic check on `version`)."""


def parse_status(value: Any) -> ReviewStatus:
    """A ReviewStatus from user text ("approved", " Approved "); ValueError names the valid ones."""
    if isinstance(value, ReviewStatus):
        return value
    text = str(value or "").strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return ReviewStatus(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a review status; use one of {STATUSES}") from None


def parse_reasons(value: Any) -> list[str]:
    """Reasons from a JSON list (`["too_short"]`), a comma/semicolon list (`too_short, refusal`) or empty."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{text!r} is not a JSON list ({exc.msg})") from None
        if not isinstance(items, list):
            raise ValueError(f"{text!r} is not a list of reasons")
        return parse_reasons(items)
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def text_hash(question: str, answer: str) -> str:
    """sha256 of a pair's question and answer text, as a verdict records it (`reviews.text_sha256`)."""
    return hashlib.sha256(json.dumps([question, answer], ensure_ascii=False).encode("utf-8")).hexdigest()


def holds(review: Review | None, question: str, answer: str) -> bool:
    """Whether `review`'s verdict was given on exactly this text (a pending pair has no verdict)."""
    return (
        review is not None
        and review.status != ReviewStatus.pending
        and review.text_sha256 is not None
        and review.text_sha256 == text_hash(question, answer)
    )


MAX_REVIEWER_CHARS = 100  # reviews.reviewer, review_events.actor: VARCHAR(100)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def reviewer_name(reviewer: str | None) -> str:
    """The name stored with each verdict: NFC, control characters removed, at most 100 characters
    (PostgreSQL refuses a longer one; SQLite would keep it). None: $USER."""
    if reviewer is None:
        return default_actor()
    name = _CONTROL.sub("", unicodedata.normalize("NFC", reviewer)).strip()
    if not name:
        raise InputError("--reviewer: give a name (it is stored with each verdict)")
    if len(name) > MAX_REVIEWER_CHARS:
        raise InputError(
            f"--reviewer: {len(name):,} characters, more than the {MAX_REVIEWER_CHARS} a reviewer name may hold; "
            "use a short name"
        )
    return name


def default_actor() -> str:
    """The reviewer's name when none is given: $USER (or the login name)."""
    try:
        return os.environ.get("USER") or getpass.getuser()
    except OSError:
        return "unknown"


def set_review(
    session: Session,
    pair_id: int,
    status: ReviewStatus | str,
    reasons: Sequence[str] = (),
    actor: str = "machine",
    note: str | None = None,
    judged: tuple[str, str] | None = None,
    expected_version: int | None = None,
) -> ReviewEvent | None:
    """Give pair `pair_id` a review verdict in the caller's transaction; None when nothing changes.

    `judged` is the (question, answer) text the verdict was given on when the caller read it
    earlier: a pair whose text changed since then gets a ConflictError instead of a verdict; so
    does a pair whose `version` is no longer `expected_version`."""
    return apply_change(
        session,
        pair_id,
        actor=actor,
        status=status,
        reasons=reasons,
        note=note,
        judged=judged,
        expected_version=expected_version,
    )


def apply_change(
    session: Session,
    pair_id: int,
    *,
    actor: str,
    status: ReviewStatus | str | None = None,
    reasons: Sequence[str] | None = None,
    note: str | None = _UNSET,
    question_text: str | None = None,
    answer_text: str | None = None,
    expected_version: int | None = None,
    judged: tuple[str, str] | None = None,
) -> ReviewEvent | None:
    """Change a pair's review state and/or texts; `None` arguments keep the current value.

    Writes the `reviews` row, bumps `qa_pairs.version` (unless this is the pair's first verdict and
    no text changes) and appends one `review_events` row with every field's old and new value.
    `expected_version` makes it fail with ConflictError when the pair changed meanwhile, `judged`
    when its text is no longer the (question, answer) the verdict was given on. The verdict records
    the hash of the pair's text after the change (`text_hash`); a pending pair records none.
    """
    pair = session.get(QAPair, pair_id)
    if pair is None:
        raise InputError(f"no pair with id {pair_id}")
    review = session.get(Review, pair_id)
    if expected_version is not None and pair.version != expected_version:
        raise ConflictError(
            f"pair {pair_id} changed since it was read (version {expected_version}, now {pair.version})"
        )
    if judged is not None and (pair.question_text, pair.answer_text) != tuple(judged):
        raise ConflictError(f"pair {pair_id}: its text changed since it was judged; judge it again")
    old_status = review.status if review else None
    try:
        new_status = parse_status(status) if status is not None else (old_status or ReviewStatus.pending)
    except ValueError as exc:
        raise InputError(f"pair {pair_id}: {exc}") from None
    old_reasons = list(review.reasons or []) if review else []
    new_reasons = list(reasons) if reasons is not None else old_reasons
    old_note = review.note if review else None
    new_note = old_note if note is _UNSET else (note or None)

    changes: dict[str, list[Any]] = {}
    if review is None or new_status != old_status:
        changes["status"] = [old_status.value if old_status else None, new_status.value]
    if new_reasons != old_reasons:
        changes["reasons"] = [old_reasons, new_reasons]
    if new_note != old_note:
        changes["note"] = [old_note, new_note]
    texts = {}
    for name, new in (("question_text", question_text), ("answer_text", answer_text)):
        if new is not None and new != getattr(pair, name):
            if not new.strip():
                raise InputError(
                    f"pair {pair_id}: empty {name.replace('_text', '')}; reject the pair instead"
                )
            changes[name] = [getattr(pair, name), new]
            texts[name] = new
    new_hash = None
    if new_status != ReviewStatus.pending:
        new_hash = text_hash(
            texts.get("question_text", pair.question_text), texts.get("answer_text", pair.answer_text)
        )
    old_hash = review.text_sha256 if review else None
    if new_hash != old_hash:  # the same verdict, now on another text: a change too
        changes["text_sha256"] = [old_hash, new_hash]
    if not changes:
        return None

    if review is not None or texts:
        # guarded UPDATE: a concurrent writer that bumped the version first makes this match no row
        result = session.execute(
            update(QAPair)
            .where(QAPair.id == pair_id, QAPair.version == pair.version)
            .values(version=pair.version + 1, updated_at=utcnow(), **texts)
            .execution_options(synchronize_session="fetch")
        )
        assert isinstance(result, CursorResult)  # an UPDATE's result (typed as Result), with its rowcount
        if result.rowcount != 1:
            raise ConflictError(f"pair {pair_id} changed while it was being reviewed; read it again")
        session.refresh(pair)
    if review is None:
        review = Review(pair_id=pair_id)
        session.add(review)
    review.status = new_status
    review.reasons = new_reasons
    review.note = new_note
    review.reviewer = actor
    review.text_sha256 = new_hash
    review.updated_at = utcnow()
    event = ReviewEvent(
        pair_id=pair_id,
        from_status=old_status.value if old_status else None,
        to_status=new_status.value,
        reasons=new_reasons,
        actor=actor,
        changes=changes,
        note=new_note,
        text_sha256=new_hash,
    )
    session.add(event)
    session.flush()
    return event


def add_initial_reviews(
    session: Session,
    pair_ids: Iterable[int],
    status: ReviewStatus,
    actor: str,
    reasons: Sequence[str] = (),
    note: str | None = None,
) -> int:
    """First verdict for freshly inserted pairs (no review yet), as two bulk INSERTs, each on the
    pair's text as stored now. Returns the count."""
    ids = list(pair_ids)
    if not ids:
        return 0
    now = utcnow()
    hashes: dict[int, str | None] = dict.fromkeys(ids)
    if status != ReviewStatus.pending:
        for start in range(0, len(ids), 500):
            rows = session.execute(
                select(QAPair.id, QAPair.question_text, QAPair.answer_text).where(
                    QAPair.id.in_(ids[start : start + 500])
                )
            )
            hashes.update({i: text_hash(q, a) for i, q, a in rows})
    session.execute(
        insert(Review),
        [
            dict(
                pair_id=i,
                status=status,
                reasons=list(reasons),
                reviewer=actor,
                note=note,
                text_sha256=hashes[i],
                updated_at=now,
            )
            for i in ids
        ],
    )
    session.execute(
        insert(ReviewEvent),
        [
            dict(
                pair_id=i,
                from_status=None,
                to_status=status.value,
                reasons=list(reasons),
                actor=actor,
                changes={"status": [None, status.value]},
                note=note,
                text_sha256=hashes[i],
                at=now,
            )
            for i in ids
        ],
    )
    return len(ids)


# --------------------------------------------------------------------------- bulk approval


@dataclass
class ApproveSummary:
    origin: str
    approved: int = 0
    flagged: int = 0  # curated pairs with at least one flag: left for a person
    not_curated: int = 0  # pending pairs the machine has not looked at yet
    stale: int = 0  # curated, but on another text than the pair holds now: curate again
    dry_run: bool = False
    pair_ids: list[int] = field(default_factory=list)


def is_flag(reason: str) -> bool:
    """A reason that asks a person to look; positive signals (`+adopted`, `+expert`, …) are not flags."""
    return not str(reason).startswith("+")


def approve_unflagged(
    origin: str,
    reviewer: str | None = None,
    url: str | None = None,
    dry_run: bool = False,
    machine_actor: str = "machine:curate",
) -> ApproveSummary:
    """Approve, in one transaction, every pair of `origin` that the machine curated (`needs_review`
    set by `machine_actor`) and that carries no flag; each approval is one review_events row.

    Pairs a person has already judged, flagged pairs, pairs not curated yet and pairs whose
    curation verdict was given on another text than they hold now (`holds`) are left alone (and
    counted). An approval covers exactly the text the machine judged. `dry_run` counts without
    writing.
    """
    from db.models import Origin
    from db.session import session_factory

    try:
        og = Origin(origin)
    except ValueError:
        raise InputError(f"--origin {origin!r}: use one of {', '.join(o.value for o in Origin)}") from None
    actor = reviewer_name(reviewer)
    summary = ApproveSummary(origin=og.value, dry_run=dry_run)
    session = session_factory(url)()
    try:
        with session.begin() as tx:
            rows = session.execute(
                select(QAPair.id, QAPair.question_text, QAPair.answer_text, Review)
                .outerjoin(Review, Review.pair_id == QAPair.id)
                .where(QAPair.origin == og)
                .order_by(QAPair.id)
            ).all()
            for pair_id, question, answer, review in rows:
                if review is None or review.status == ReviewStatus.pending:
                    summary.not_curated += 1
                    continue
                if review.status != ReviewStatus.needs_review or review.reviewer != machine_actor:
                    continue
                if not holds(review, question, answer):
                    summary.stale += 1
                    continue
                if any(is_flag(r) for r in review.reasons or []):
                    summary.flagged += 1
                    continue
                set_review(
                    session,
                    pair_id,
                    ReviewStatus.approved,
                    reasons=list(review.reasons or []),
                    actor=actor,
                    note="approved without flags (dobae review approve --no-flags)",
                    judged=(question, answer),
                )
                summary.approved += 1
                summary.pair_ids.append(pair_id)
            if dry_run:
                tx.rollback()
    finally:
        session.close()
    return summary


def __getattr__(name: str) -> Any:
    """`from db.review import import_review_file` still works: the file import lives in
    `db.review_import` (which imports this module, so it is loaded on first use, not here)."""
    if name in ("import_review_file", "ReviewImportSummary"):
        from db import review_import

        return getattr(review_import, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
