"""Export curated pairs for training or for review: JSONL, CSV or Parquet, byte-for-byte reproducible.

Rows are ordered by pair id (stable database ids), columns are fixed (`EXPORT_COLUMNS`), text is
UTF-8; CSV cells that a spreadsheet would run as a formula get a leading apostrophe
(`db.spreadsheet`, undone by the review import). `source_groups` lists every group a pair was built from (its own first; a compound pair
has two): grouped splits must hold a pair out when ANY of them is held out. The file's sha256 and the filter are recorded in the `exports` table, so a training run can
name exactly the data it used. The same file, edited, goes back in with `dobae review import`.
Contact details (phone numbers, URLs, e-mail addresses, messenger ids) are masked in the written
question and answer texts (`db.contact.mask_contacts`); the import treats a masked text as unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from db.contact import mask_contacts
from db.models import Export, Origin, QAPair, Review, ReviewStatus, Split
from db.review import holds
from foundation.errors import InputError

EXPORT_COLUMNS = [
    "id",
    "key",
    "group_id",
    "question",
    "answer",
    "category",
    "origin",
    "parent_id",
    "source_groups",
    "split",
    "status",
    "reasons",
    "note",
    "version",
]
FORMATS = ("jsonl", "csv", "parquet")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    rows: int
    sha256: str
    export_id: int


def _choices(values: Sequence[str] | None, enum: type[Enum], flag: str) -> list[str] | None:
    if not values:
        return None
    valid = [e.value for e in enum]
    out = []
    for v in values:
        v = v.strip()
        if v not in valid:
            raise InputError(f"{flag} {v!r}: use one of {', '.join(valid)}")
        out.append(v)
    return sorted(set(out))


def select_rows(
    session: Session,
    statuses: Sequence[str] | None = ("approved",),
    origins: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The pairs that match, as plain records in EXPORT_COLUMNS order, ordered by id.

    A pair without a review row counts as `pending`, and so does an approved pair whose text is
    no longer the text that was approved (`db.review.holds`): the approved export never holds text
    nobody approved. None (or "all" in `statuses`) means no filter.
    """
    if statuses and "all" in statuses:
        statuses = None
    st = _choices(statuses, ReviewStatus, "--status")
    og = _choices(origins, Origin, "--origin")
    sp = _choices(splits, Split, "--split")
    q = select(QAPair, Review).outerjoin(Review, Review.pair_id == QAPair.id).order_by(QAPair.id)
    if st is not None:
        # an approval that no longer holds for the pair's text counts as pending (filtered below)
        wanted = {ReviewStatus(s) for s in st} | ({ReviewStatus.approved} if "pending" in st else set())
        cond = Review.status.in_(sorted(wanted))
        q = q.where(or_(cond, Review.status.is_(None)) if "pending" in st else cond)
    if og is not None:
        q = q.where(QAPair.origin.in_([Origin(o) for o in og]))
    if categories:
        q = q.where(QAPair.category.in_(sorted(set(categories))))
    if sp is not None:
        q = q.where(QAPair.split.in_([Split(s) for s in sp]))
    rows = []
    for pair, review in session.execute(q):
        status = review.status if review else ReviewStatus.pending
        if status == ReviewStatus.approved and not holds(review, pair.question_text, pair.answer_text):
            status = ReviewStatus.pending  # approved on another text: nobody approved this one
        if st is not None and status.value not in st:
            continue
        rows.append(
            {
                "id": pair.id,
                "key": pair.key,
                "group_id": pair.group_id,
                "question": mask_contacts(pair.question_text),
                "answer": mask_contacts(pair.answer_text),
                "category": pair.category,
                "origin": pair.origin.value,
                "parent_id": pair.parent_id,
                "source_groups": pair.groups,
                "split": pair.split.value if pair.split else None,
                "status": status.value,
                "reasons": [str(r) for r in (review.reasons or [])] if review else [],
                "note": review.note if review else None,
                "version": pair.version,
            }
        )
    return rows


def exported_chars(text: str) -> int:
    """The length of `text` in an export's cell: contact details masked, and in a CSV the formula
    guard (`db.spreadsheet.neutralise`) added."""
    from db.spreadsheet import neutralise

    return len(neutralise(mask_contacts(text)) or "")


def too_long_to_export(text: str) -> str | None:
    """Why no pair may hold `text` — its exported cell would be longer than a review import reads
    (`db.tabular.MAX_CELL_CHARS`), so export → review import would fail — or None. Every path that
    stores a pair's question or answer checks it."""
    from db.tabular import MAX_CELL_CHARS

    n = exported_chars(text)
    if n <= MAX_CELL_CHARS:
        return None
    shown = f"{len(text):,} characters" + (f" ({n:,} as exported)" if n != len(text) else "")
    return f"{shown}, more than the {MAX_CELL_CHARS:,} a cell of a review file holds"


def _write(rows: list[dict[str, Any]], path: Path, fmt: str) -> None:
    import pandas as pd

    if fmt == "jsonl":
        with path.open("w", encoding="utf-8", newline="\n") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        return
    df = pd.DataFrame.from_records(rows, columns=EXPORT_COLUMNS)
    for col in ("id", "parent_id", "version"):
        df[col] = df[col].astype("Int64")
    if fmt == "csv":
        from db.spreadsheet import neutralise

        for col in ("source_groups", "reasons"):
            df[col] = [json.dumps(r, ensure_ascii=False) for r in df[col]]
        for col in df.columns:  # every text column: no cell may run as a spreadsheet formula
            if col not in ("id", "parent_id", "version"):
                df[col] = [neutralise(v) for v in df[col]]
        # CRLF (RFC 4180): Python's csv writer then quotes every cell holding a CR or LF, so a CR
        # inside a text survives the round trip (with "\n" alone it splits the row when read back)
        df.to_csv(path, index=False, encoding="utf-8", lineterminator="\r\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema(
            [
                ("id", pa.int64()),
                ("key", pa.string()),
                ("group_id", pa.string()),
                ("question", pa.string()),
                ("answer", pa.string()),
                ("category", pa.string()),
                ("origin", pa.string()),
                ("parent_id", pa.int64()),
                ("source_groups", pa.list_(pa.string())),
                ("split", pa.string()),
                ("status", pa.string()),
                ("reasons", pa.list_(pa.string())),
                ("note", pa.string()),
                ("version", pa.int64()),
            ]
        )
        table = pa.Table.from_pandas(df, schema=schema, preserve_index=False).replace_schema_metadata(None)
        pq.write_table(table, path, compression="zstd")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def format_for(out: Path, fmt: str | None) -> str:
    if fmt:
        fmt = fmt.lower()
    else:
        fmt = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}.get(
            out.suffix.lower()
        )
        if fmt is None:
            raise InputError(
                f"--out {out}: cannot tell the format from the suffix; add --format jsonl|csv|parquet"
            )
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    return fmt


def export_pairs(
    out: Path | str,
    fmt: str | None = None,
    statuses: Sequence[str] | None = ("approved",),
    origins: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    splits: Sequence[str] | None = None,
    url: str | None = None,
) -> ExportResult:
    """Write the matching pairs to `out` (atomically) and record the export; returns its sha256."""
    from db.migrate import ensure_schema
    from db.session import session_scope

    out = Path(out)
    fmt = format_for(out, fmt)
    if out.is_dir():
        raise InputError(f"--out {out}: is a folder; give a file name such as {out / ('pairs.' + fmt)}")
    ensure_schema(url)
    out.parent.mkdir(parents=True, exist_ok=True)
    with session_scope(url) as session:
        rows = select_rows(session, statuses, origins, categories, splits)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            _write(rows, tmp_path, fmt)
            digest = sha256_file(tmp_path)
            os.replace(tmp_path, out)
        finally:
            tmp_path.unlink(missing_ok=True)
        flt = {
            "status": statuses and sorted(set(statuses)),
            "origin": origins and sorted(set(origins)),
            "category": categories and sorted(set(categories)),
            "split": splits and sorted(set(splits)),
        }
        record = Export(
            path=str(out.resolve()),
            format=fmt,
            filter={k: v for k, v in flt.items() if v},
            rows=len(rows),
            sha256=digest,
        )
        session.add(record)
        session.flush()
        return ExportResult(out, fmt, len(rows), digest, record.id)
