"""The one place where review state changes: a pair's `reviews` row plus an append-only `review_events` row.

- `set_review(session, pair_id, status, reasons, actor)`: a verdict (machine gates, a person, an import).
- `apply_change(...)`: the general form that also corrects question/answer texts with an optimistic
  check on `qa_pairs.version`.
- `add_initial_reviews(...)`: the first verdict for many fresh pairs at once (bulk importers).
- `import_review_file(path, reviewer)`: a reviewer's edited export (CSV, JSONL or Parquet) applied in
  one transaction; any bad row stops the whole import and changes nothing.

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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
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


# --------------------------------------------------------------------------- review files

REQUIRED = ("id", "version", "status")
EDITABLE = ("status", "reasons", "note", "question", "answer")
# columns an export carries for the reviewer's eyes only: an edit there is refused, never dropped
READ_ONLY = ("key", "group_id", "category", "origin", "parent_id", "source_groups", "split")


@dataclass
class ReviewImportSummary:
    path: Path
    rows: int = 0
    changed: int = 0
    unchanged: int = 0
    text_edits: int = 0
    transitions: Counter = field(default_factory=Counter)  # (from, to) -> n
    dry_run: bool = False


@dataclass
class _Edit:
    where: str
    pair_id: int
    version: int
    status: ReviewStatus
    reasons: list[str] | None
    note: str | None
    question: str | None
    answer: str | None
    fixed: dict[str, Any] = field(default_factory=dict)  # the file's read-only columns


def _int(value: Any, where: str, what: str) -> int:
    try:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool):
            raise ValueError
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise InputError(f"{where}: {what} {value!r} is not a whole number") from None


def _read_edits(path: Path) -> tuple[list[_Edit], bool]:
    from db.spreadsheet import restore
    from db.tabular import clean, missing, read_table

    table = read_table(path)
    if table.unit == "line" and path.suffix.lower() == ".csv":  # undo the export's formula guard
        for rec in table.records:
            rec.values.update({k: clean(restore(v)) for k, v in rec.values.items()})
    absent = [c for c in REQUIRED if c not in table.columns]
    if absent:
        raise InputError(
            f"{path}, line 1: missing column(s) {', '.join(map(repr, absent))}; "
            "edit a file written by `dobae export` and keep its id, version and status columns"
        )
    if not table.records:
        raise InputError(f"{path}: no rows to import")
    edits: list[_Edit] = []
    seen: dict[int, str] = {}
    for rec in table.records:
        v = rec.values
        where = table.where(rec)
        pair_id = _int(v.get("id"), table.where(rec, "id"), "id")
        if pair_id in seen:
            raise InputError(
                f"{table.where(rec, 'id')}: pair {pair_id} appears twice (first at {seen[pair_id]})"
            )
        seen[pair_id] = f"{table.unit} {rec.line}"
        version = _int(v.get("version"), table.where(rec, "version"), "version")
        try:
            status = parse_status(v.get("status"))
        except ValueError as exc:
            raise InputError(f"{table.where(rec, 'status')}: {exc}") from None
        try:
            reasons = None
            if "reasons" in table.columns:
                reasons = [] if missing(v.get("reasons")) else parse_reasons(v.get("reasons"))
        except ValueError as exc:
            raise InputError(f"{table.where(rec, 'reasons')}: {exc}") from None
        texts = {}
        for col in ("question", "answer"):
            if col not in table.columns:
                texts[col] = None
                continue
            text = v.get(col)
            why = missing(text)
            if why:
                what = f"empty {col}" if why == "empty" else why
                raise InputError(
                    f"{table.where(rec, col)}: {what}; set status to rejected instead of blanking it"
                )
            texts[col] = str(text)
        note = None
        if "note" in table.columns and not missing(v.get("note")):
            note = str(v.get("note"))
        fixed = {c: v.get(c) for c in READ_ONLY if c in table.columns}
        edits.append(
            _Edit(where, pair_id, version, status, reasons, note, texts["question"], texts["answer"], fixed)
        )
    return edits, "note" in table.columns


def import_review_file(
    path: Path | str,
    reviewer: str | None = None,
    url: str | None = None,
    dry_run: bool = False,
) -> ReviewImportSummary:
    """Apply a reviewer's edited export: status, reasons, note and corrected question/answer texts.

    Validates every row first (ids exist, statuses valid, no duplicates, versions unchanged for
    edited rows), then applies all changes in one transaction. Rows equal to the database are
    skipped. `dry_run` validates and counts without writing.
    """
    from db.export import too_long_to_export
    from db.session import session_factory

    path = Path(path)
    actor = reviewer_name(reviewer)
    edits, note_column = _read_edits(path)
    summary = ReviewImportSummary(path=path, rows=len(edits), dry_run=dry_run)
    session = session_factory(url)()
    try:
        with session.begin() as tx:
            current = _current(session, [e.pair_id for e in edits])
            todo = []
            for e in edits:
                if e.pair_id not in current:
                    raise InputError(
                        f"{e.where}, column 'id': no pair with id {e.pair_id} in the database "
                        "(was the file exported from another database?)"
                    )
                pair, review = current[e.pair_id]
                _unmask(e, pair)
                for col, edited in (("question", e.question), ("answer", e.answer)):
                    why = too_long_to_export(edited) if edited is not None else None  # an edit
                    if why:
                        raise InputError(
                            f"{e.where}, column {col!r}: {why}; shorten it or set status to rejected"
                        )
                if e.version == pair.version:
                    _check_read_only(e, pair)
                diff = _diff(e, pair, review, note_column)
                if not diff:
                    summary.unchanged += 1
                    continue
                if e.version != pair.version:
                    raise InputError(
                        f"{e.where}, column 'version': pair {e.pair_id} changed in the database since the "
                        f"export (version {e.version} in the file, {pair.version} now; differs in: "
                        f"{', '.join(diff)}); nothing was imported: export again and redo this row's edit"
                    )
                todo.append((e, review.status.value if review else "pending", diff))
            for e, before, diff in todo:
                try:
                    apply_change(
                        session,
                        e.pair_id,
                        actor=actor,
                        status=e.status,
                        reasons=e.reasons,
                        note=e.note if note_column else _UNSET,
                        question_text=e.question,
                        answer_text=e.answer,
                        expected_version=e.version,
                    )
                except ConflictError as exc:
                    raise InputError(
                        f"{e.where}: {exc}; nothing was imported, run the import again"
                    ) from None
                summary.changed += 1
                summary.transitions[(before, e.status.value)] += 1
                summary.text_edits += bool({"question", "answer"} & set(diff))
            if dry_run:
                tx.rollback()
    finally:
        session.close()
    return summary


@dataclass(frozen=True)
class _Current:
    question_text: str
    answer_text: str
    version: int
    fixed: dict[str, Any] = field(default_factory=dict)  # the READ_ONLY columns as exported


def _same(column: str, in_file: Any, in_db: Any) -> bool:
    """Does the file's cell (text in a CSV, typed in JSONL/Parquet) still hold the exported value?"""
    from db.tabular import clean, missing

    if missing(in_file) == "empty":
        return in_db in (None, [], "")
    if column == "source_groups":
        if isinstance(in_file, str):
            try:
                in_file = json.loads(in_file)
            except json.JSONDecodeError:
                return False
        return isinstance(in_file, list | tuple) and [str(g) for g in in_file] == list(in_db or [])
    if column == "parent_id":
        try:
            return in_db is not None and _int(in_file, "", "") == in_db
        except InputError:
            return False
    return clean(str(in_file)) == ("" if in_db is None else clean(str(in_db)))


def _check_read_only(e: _Edit, pair: _Current) -> None:
    for column, value in e.fixed.items():
        if not _same(column, value, pair.fixed[column]):
            raise InputError(
                f"{e.where}, column {column!r}: {column} is read-only, and pair {e.pair_id} has "
                f"{pair.fixed[column]!r} in the database but {value!r} in the file; nothing was imported: "
                f"undo that edit (only {', '.join(EDITABLE)} can be changed by a review import)"
            )


def _current(session: Session, ids: list[int]) -> dict[int, tuple[_Current, Review | None]]:
    found: dict[int, tuple[_Current, Review | None]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(
            select(QAPair, Review).outerjoin(Review, Review.pair_id == QAPair.id).where(QAPair.id.in_(chunk))
        ).all()
        for pair, review in rows:
            fixed = {
                "key": pair.key,
                "group_id": pair.group_id,
                "category": pair.category,
                "origin": pair.origin.value,
                "parent_id": pair.parent_id,
                "source_groups": pair.groups,
                "split": pair.split.value if pair.split else None,
            }
            found[pair.id] = (_Current(pair.question_text, pair.answer_text, pair.version, fixed), review)
    return found


def _unmask(e: _Edit, pair: _Current) -> None:
    """A text that is the export's masked form of the database text (contact details replaced,
    `db.contact`) is no edit: keep the database text."""
    from db.contact import mask_contacts
    from db.tabular import clean

    # compared as `_diff` compares (the file was read NFC-normalised and stripped)
    if e.question is not None and clean(e.question) == clean(mask_contacts(pair.question_text)):
        e.question = None
    if e.answer is not None and clean(e.answer) == clean(mask_contacts(pair.answer_text)):
        e.answer = None


def _diff(e: _Edit, pair: _Current, review: Review | None, note_column: bool) -> list[str]:
    """Names of the fields where the file's row differs from the database. The file's text was
    read NFC-normalised and stripped (a CSV cell's guard apostrophe protects its leading tab), so
    both sides are compared that way: a text that only differs in surrounding whitespace was not
    edited."""
    from db.tabular import clean, missing

    def _note(note: str | None) -> str | None:  # an invisible or placeholder note is no note
        return None if missing(note) else clean(note)

    names = []
    status = review.status if review else ReviewStatus.pending
    if status == ReviewStatus.approved and not holds(review, pair.question_text, pair.answer_text):
        status = ReviewStatus.pending  # as the export shows it: approving it again is a change
    if e.status != status:
        names.append("status")
    if e.reasons is not None and e.reasons != (list(review.reasons or []) if review else []):
        names.append("reasons")
    old_note = review.note if review else None
    if note_column and _note(e.note) != _note(old_note):
        names.append("note")
    if e.question is not None and clean(e.question) != clean(pair.question_text):
        names.append("question")
    if e.answer is not None and clean(e.answer) != clean(pair.answer_text):
        names.append("answer")
    return names


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
