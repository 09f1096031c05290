"""`dobae infer`'s resumable files. Finished chunks of questions are appended to
`OUT.partial.jsonl` (one JSON line per question id, flushed and fsynced per chunk); a killed job
started again with the same arguments reads the ids already there and skips them. At the end `OUT`
(id, 질문, answer) is written atomically, the records go to `OUT` with suffix `.jsonl` (parts,
candidates, scores) and the partial file is removed."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.jsonl")


def read_partial(path: Path) -> dict[str, dict[str, Any]]:
    """Finished records by id; a torn last line (killed mid-write) is ignored."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[str(rec["id"])] = rec
    return done


def append_chunk(fh: IO[str], records: Iterable[dict[str, Any]]) -> None:
    """One chunk's records, on disk (flushed and fsynced) before the next chunk starts."""
    for rec in records:
        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def write_answers(out: Path, tests: Sequence, done: dict[str, dict[str, Any]]) -> Path:
    """`out` (id, 질문, answer; atomically), the details `.jsonl` beside it, in the questions' order;
    the partial file removed. Returns the details path."""
    from db.spreadsheet import neutralise

    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "질문", "answer"])
        for t in tests:  # no cell may run as a spreadsheet formula (`dobae score` undoes the guard)
            w.writerow([neutralise(v) for v in (t.id, t.question, done[t.id]["answer"])])
    os.replace(tmp, out)
    details = out.with_suffix(".jsonl")
    with details.open("w", encoding="utf-8") as fh:
        for t in tests:
            fh.write(json.dumps(done[t.id], ensure_ascii=False) + "\n")
    partial_path(out).unlink()
    return details
