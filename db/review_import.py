"""`dobae review import`: a reviewer's edited export (CSV, JSONL or Parquet) back into reviews.

`import_review_file(path, reviewer)` reads the file (`db.tabular`; a CSV's formula guard undone,
`db.spreadsheet`), checks every row first — ids exist, statuses and reasons parse, no duplicates,
read-only columns untouched, versions unchanged for edited rows, edited texts short enough to be
exported again — and then applies every change through `db.review.apply_change` in one
transaction: any bad row stops the whole import and changes nothing. Rows equal to the database
(texts compared NFC-normalised and stripped; the export's masked contact details are no edit) are
skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import QAPair, Review, ReviewStatus
from db.review import ConflictError, apply_change, holds, parse_reasons, parse_status, reviewer_name
from foundation.errors import InputError

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
        texts: dict[str, str | None] = {}
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
                keep_note: dict[str, Any] = {"note": e.note} if note_column else {}  # none: keep the note
                try:
                    apply_change(
                        session,
                        e.pair_id,
                        actor=actor,
                        status=e.status,
                        reasons=e.reasons,
                        question_text=e.question,
                        answer_text=e.answer,
                        expected_version=e.version,
                        **keep_note,
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
        return None if note is None or missing(note) else clean(note)

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
