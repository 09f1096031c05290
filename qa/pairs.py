"""The pair type that every stage's question answering shares, and the reader of a `dobae export`
JSONL file (validated, sha256 recorded): what the trainer trains on and what a run's retrieval
corpus is read from.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.errors import InputError

REQUIRED = ("id", "group_id", "question", "answer")


@dataclass(frozen=True)
class Pair:
    """One question-answer pair: a training example, a retrieval item, an answerer's fitting row.

    `group_id` ties paraphrases of one item together (they never straddle a split);
    `source_groups` names every other group a derived pair was built from (a compound question).
    """

    question: str
    answer: str
    group_id: str
    category: str | None = None
    id: str = ""
    origin: str = ""
    source_groups: tuple[str, ...] = ()  # every group the pair was built from (export column)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def groups(self) -> tuple[str, ...]:
        """Own group first, then the other groups the pair was built from."""
        return tuple(dict.fromkeys((self.group_id, *self.source_groups)))


def groups_of(row: dict, where: str) -> tuple[str, ...]:
    """The export row's `source_groups` (absent or empty: none beyond its own group)."""
    value = row.get("source_groups")
    if value in (None, ""):
        return ()
    if not isinstance(value, list) or not all(isinstance(g, str) and g.strip() for g in value):
        raise InputError(f"{where}: field 'source_groups' must be a list of group ids, got {value!r}")
    return tuple(g.strip() for g in value)


def drop_groups(pairs: list[Pair], held_out: set[str]) -> list[Pair]:
    """The pairs none of whose groups is in `held_out` (what may train when those are held out)."""
    return [p for p in pairs if held_out.isdisjoint(p.groups)]


@dataclass(frozen=True)
class ExportData:
    path: Path
    sha256: str
    pairs: list[Pair]


def _text(value, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where}: field {field!r} must be a string, got {type(value).__name__}")
    from db.tabular import missing

    text = unicodedata.normalize("NFC", value).strip()
    why = missing(text)
    if why:
        raise InputError(
            f"{where}: field {field!r} is empty" if why == "empty" else f"{where}: field {field!r}: {why}"
        )
    return text


def read_export(path: Path | str) -> ExportData:
    """Every row of a `dobae export` JSONL file, checked; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: export file not found (make one with `dobae export --format jsonl`)")
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start})") from None
    pairs: list[Pair] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.split("\n"), 1):  # newline only: U+2028 may sit inside strings
        if not line.strip():
            continue
        where = f"{path}, line {lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
        missing = [f for f in REQUIRED if f not in row or row[f] is None]
        if missing:
            raise InputError(f"{where}: missing field(s) {', '.join(missing)}")
        status = row.get("status")
        if status not in (None, "", "approved"):
            raise InputError(
                f"{where}: pair {row['id']} has status {status!r}; train on approved pairs only "
                "(`dobae export --status approved`)"
            )
        pid = str(row["id"]).strip()
        if pid in seen:
            raise InputError(f"{where}: duplicate pair id {pid!r} (first on line {seen[pid]})")
        seen[pid] = lineno
        pairs.append(
            Pair(
                id=pid,
                group_id=str(row["group_id"]).strip() or pid,
                question=_text(row["question"], where, "question"),
                answer=_text(row["answer"], where, "answer"),
                category=str(row.get("category") or ""),
                origin=str(row.get("origin") or ""),
                source_groups=groups_of(row, where),
            )
        )
    if not pairs:
        raise InputError(f"{path}: no pairs (the export is empty; approve pairs with `dobae review` first)")
    return ExportData(path, sha, pairs)
