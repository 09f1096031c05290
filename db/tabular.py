"""Read tables people hand us (CSV, JSONL, Parquet) with the line numbers they see in an editor.

Input is UTF-8 with or without a BOM; text is NFC-normalised and stripped. Every problem is an
`InputError` that names the file, the line (or row) and the column, and says what to do.

A cell holds at most `MAX_CELL_CHARS` characters (128 KiB): a longer one is refused naming its
line and column (usually a quote that is never closed swallowed the rows after it). `missing`
tells the placeholders spreadsheets and pandas write for "no value" (`NaN`, `None`, `null`, `-`)
from real text, so importers refuse them like empty cells.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.errors import InputError

_BAD_BYTE = re.compile("[\udc80-\udcff]")  # what `surrogateescape` turns undecodable bytes into
_MAGIC = {
    b"PK\x03\x04": "a zip/Excel file",
    b"%PDF": "a PDF file",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PAR1": "a Parquet file",
    b"SQLite format 3": "an SQLite database",
    b"\x1f\x8b": "a gzip file",
}


MAX_CELL_CHARS = 128 * 1024
_CSV_HARD_LIMIT = 1 << 30  # the csv module's own limit, raised so that our check can name the cell
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u180e\u00ad\u200e\u200f"  # zero-width, BOM, LRM/RLM
_DROP_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE))
PLACEHOLDERS = frozenset({"nan", "none", "null", "-"})  # compared case-insensitively


def missing(value: Any) -> str | None:
    """Why `value` is no value ("empty", or "'NaN' is a placeholder for a missing value"), None for text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "empty"
    text = str(value).strip()
    if not text or (text[0] in _INVISIBLE and not text.translate(_DROP_INVISIBLE).strip()):
        return "empty"
    if len(text) <= 4 and text.casefold() in PLACEHOLDERS:
        return f"{text!r} is a placeholder for a missing value, not text"
    return None


def _too_long(where: str, value: str) -> str:
    return (
        f"{where}: {len(value):,} characters, more than the {MAX_CELL_CHARS:,} (128 KiB) a cell may hold; "
        "shorten that cell, or close the quote that makes it run on into the next rows"
    )


@dataclass(frozen=True)
class Record:
    """One data row: `line` is where it starts (1-based, the header is line 1 in a CSV)."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True)
class Table:
    path: Path
    columns: list[str]
    records: list[Record]
    unit: str = "line"  # "line" for CSV/JSONL, "row" for Parquet

    def where(self, record: Record, column: str | None = None) -> str:
        """`FILE, line N, column 'x'` for error messages."""
        loc = f"{self.path}, {self.unit} {record.line}"
        return f"{loc}, column {column!r}" if column else loc


def clean(text: str) -> str:
    """NFC-normalised, surrounding whitespace stripped (Korean text is never otherwise changed)."""
    return unicodedata.normalize("NFC", text).strip()


def read_bytes(path: Path, what: str = "CSV") -> bytes:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    data = path.read_bytes()
    if not data.removeprefix(b"\xef\xbb\xbf").strip():
        raise InputError(f"{path}: the file is empty; expected a {what} file with a header line")
    return data


def _not_text(path: Path, data: bytes, what: str) -> None:
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            raise InputError(f"{path}: not a {what} file (it is {kind}); save it as {what} in UTF-8")
    nul = data.find(b"\x00", 0, 1 << 16)
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InputError(
            f"{path}, line {line}: not a {what} file (binary data: NUL byte); save it as {what} in UTF-8"
        )


def decode(path: Path, data: bytes, what: str = "CSV") -> str:
    """UTF-8 text (BOM dropped); undecodable bytes become lone surrogates that `check_utf8` reports."""
    _not_text(path, data, what)
    return data.decode("utf-8-sig", errors="surrogateescape")


def _bad_bytes_message(where: str, value: str) -> str:
    m = _BAD_BYTE.search(value)
    assert m is not None
    raw = value[m.start() : m.start() + 4].encode("utf-8", errors="surrogateescape")[:4]
    return (
        f"{where}: not UTF-8 (bytes {raw.hex(' ')}…); the file looks like another encoding "
        "(e.g. CP949/EUC-KR): save it as UTF-8"
    )


def read_csv(path: Path | str, what: str = "CSV") -> Table:
    """All records of a CSV file; the first non-blank line is the header. Blank lines are skipped."""
    path = Path(path)
    text = decode(path, read_bytes(path, what), what)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    records: list[Record] = []
    prev = 0
    limit = csv.field_size_limit(_CSV_HARD_LIMIT)
    try:
        for raw in reader:
            start, prev = prev + 1, reader.line_num
            if not raw or (len(raw) == 1 and not raw[0].strip()):
                continue
            if header is None:
                header = _header(path, start, raw)
                continue
            for i, cell in enumerate(raw):  # before the width: an unclosed quote makes a short row
                if len(cell) > MAX_CELL_CHARS or "\x00" in cell:  # NUL past the first 64 KiB too
                    col = repr(header[i]) if i < len(header) else f"{i + 1} (past the header's last)"
                    line = start + "".join(raw[:i]).count("\n")
                    where = f"{path}, line {line}, column {col}"
                    raise InputError(
                        _too_long(where, cell) if len(cell) > MAX_CELL_CHARS else _nul_message(where)
                    )
            if len(raw) != len(header):
                raise InputError(_width_message(path, start, raw, header))
            values: dict[str, str] = {}
            for i, (col, cell) in enumerate(zip(header, raw, strict=True)):
                bad = _BAD_BYTE.search(cell)
                if bad:
                    line = start + "".join(raw[:i]).count("\n") + cell[: bad.start()].count("\n")
                    raise InputError(_bad_bytes_message(f"{path}, line {line}, column {col!r}", cell))
                values[col] = clean(cell)
            records.append(Record(start, values))
    except csv.Error as exc:
        raise InputError(
            f"{path}, line {reader.line_num}: malformed CSV ({exc}); check the quotes on that line"
        ) from exc
    finally:
        csv.field_size_limit(limit)
    if header is None:
        raise InputError(f"{path}: no header line; expected a {what} file")
    return Table(path, header, records)


def _header(path: Path, line: int, raw: list[str]) -> list[str]:
    cols = []
    for i, cell in enumerate(raw, 1):
        if _BAD_BYTE.search(cell):
            raise InputError(_bad_bytes_message(f"{path}, line {line}, header column {i}", cell))
        if len(cell) > MAX_CELL_CHARS:
            raise InputError(_too_long(f"{path}, line {line}, header column {i}", cell))
        col = clean(cell)
        if not col:
            raise InputError(f"{path}, line {line}: header column {i} has no name")
        if col in cols:
            raise InputError(f"{path}, line {line}: column {col!r} appears twice in the header")
        cols.append(col)
    return cols


def _width_message(path: Path, line: int, raw: list[str], header: list[str]) -> str:
    if len(raw) > len(header):
        extra = ", ".join(repr(c) for c in raw[len(header) :][:3])
        return (
            f"{path}, line {line}: {len(raw)} fields but the header has {len(header)} columns "
            f"(extra value {extra} after column {header[-1]!r}); quote cells that contain commas"
        )
    missing = ", ".join(repr(c) for c in header[len(raw) :])
    return f"{path}, line {line}, column {header[len(raw)]!r}: missing (the row has {len(raw)} of {len(header)} fields: no {missing})"


def check_columns(path: Path, columns: list[str], expected: tuple[str, ...], hint: str = "") -> None:
    """Exactly the expected columns (any order), or an error naming the missing and the extra ones."""
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append("missing column(s) " + ", ".join(repr(c) for c in missing))
    if extra:
        parts.append("unexpected column(s) " + ", ".join(repr(c) for c in extra))
    if len(columns) == 1 and any(sep in columns[0] for sep in ("\t", ";", "|")):
        hint = "the file looks tab- or semicolon-separated; save it comma-separated. " + hint
    expect = ", ".join(expected)
    raise InputError(f"{path}, line 1: {'; '.join(parts)}; expected the columns {expect}. {hint}".rstrip())


def read_jsonl(path: Path | str) -> Table:
    """One JSON object per line (blank lines skipped); columns are the union of keys in first-seen order."""
    path = Path(path)
    text = decode(path, read_bytes(path, "JSONL"), "JSONL")
    records: list[Record] = []
    columns: list[str] = []
    for n, line in enumerate(text.split("\n"), 1):  # not splitlines(): U+2028 may sit inside a string
        if not line.strip():
            continue
        if _BAD_BYTE.search(line):
            raise InputError(_bad_bytes_message(f"{path}, line {n}", line))
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}, line {n}: not valid JSON ({exc.msg} at character {exc.pos + 1})"
            ) from exc
        if not isinstance(obj, dict):
            raise InputError(f"{path}, line {n}: expected a JSON object per line, got {type(obj).__name__}")
        values = {
            unicodedata.normalize("NFC", str(k)).strip(): (clean(v) if isinstance(v, str) else v)
            for k, v in obj.items()
        }
        _check_lengths(path, "line", n, values)
        columns.extend(k for k in values if k not in columns)
        records.append(Record(n, values))
    return Table(path, columns, records)


def _check_lengths(path: Path, unit: str, n: int, values: dict[str, Any]) -> None:
    for col, v in values.items():
        if isinstance(v, str) and len(v) > MAX_CELL_CHARS:
            raise InputError(_too_long(f"{path}, {unit} {n}, column {col!r}", v))
        if _has_nul(v):
            raise InputError(_nul_message(f"{path}, {unit} {n}, column {col!r}"))


def _has_nul(value: Any) -> bool:
    """A NUL character in a string, or in a string of a list (reasons)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _nul_message(where: str) -> str:
    return f"{where}: a NUL character (\\u0000), which PostgreSQL cannot store in a text; remove it"


def read_parquet(path: Path | str) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    read_bytes(path, "Parquet")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    records = [
        Record(i, {k: clean(v) if isinstance(v, str) else v for k, v in row.items()})
        for i, row in enumerate(table.to_pylist(), 1)
    ]
    for rec in records:
        _check_lengths(path, "row", rec.line, rec.values)
    return Table(path, list(table.column_names), records, unit="row")


def read_table(path: Path | str) -> Table:
    """CSV, JSONL or Parquet by file suffix (`.csv`, `.jsonl`/`.json`/`.ndjson`, `.parquet`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return read_jsonl(path)
    if suffix in (".parquet", ".pq"):
        return read_parquet(path)
    raise InputError(f"{path}: unknown file type {suffix or '(no suffix)'!r}; use .csv, .jsonl or .parquet")
