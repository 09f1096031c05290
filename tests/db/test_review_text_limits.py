"""What the review path stores must fit both databases: a reviewer name longer than the column
(100 characters) and a NUL character in a review file (JSONL `\\u0000`, or a CSV cell past the first
64 KiB) are one line naming the problem, never a PostgreSQL DataError traceback (found by
tests/mainjob/test_text_properties.py)."""

from __future__ import annotations

import csv
import json

from sqlalchemy import select

from db.models import Review, ReviewEvent
from db.session import session_scope


def _export(cli, path):
    code, out, err = cli("export", "--status", "all", "--format", path.suffix[1:], "--out", str(path))
    assert code == 0, err
    return path


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    [line] = err.strip().splitlines()
    return line


def test_a_long_reviewer_name_is_one_line(db_url, cli, tmp_path):
    from db.dacon import import_sample

    import_sample()
    path = _export(cli, tmp_path / "r.jsonl")
    first = json.loads(path.read_text(encoding="utf-8").split("\n")[0])
    path.write_text(json.dumps({**first, "status": "rejected"}, ensure_ascii=False) + "\n", encoding="utf-8")
    for args, says in [
        (
            ("review", "import", str(path), "--reviewer", "가" * 101),
            "error: --reviewer: 101 characters, more than the 100",
        ),
        (
            ("review", "approve", "--origin", "crawl", "--no-flags", "--reviewer", "가" * 101),
            "error: --reviewer: 101 characters",
        ),
        (("review", "import", str(path), "--reviewer", " \x1b\x07 "), "error: --reviewer: give a name"),
    ]:
        code, out, err = cli(*args)
        assert code == 1 and _one_line(err).startswith(says), err
    code, out, err = cli("review", "import", str(path), "--reviewer", "김\x1b[31m도배 " + "가" * 80)
    assert code == 0, err
    with session_scope(db_url) as s:
        assert s.scalars(
            select(ReviewEvent.actor).where(ReviewEvent.actor.not_in(["machine", "dacon"]))
        ).all() == ["김[31m도배 " + "가" * 80]


def test_a_nul_in_a_review_file_is_one_line(db_url, cli, tmp_path):
    from db.dacon import import_sample

    import_sample()
    path = _export(cli, tmp_path / "r.jsonl")
    first = json.loads(path.read_text(encoding="utf-8").split("\n")[0])
    for column, value in [("reasons", ["이유\x00"]), ("note", "메모\x00"), ("answer", "답\x00변")]:
        path.write_text(json.dumps({**first, column: value}) + "\n", encoding="utf-8")
        code, out, err = cli("review", "import", str(path))
        assert code == 1, err
        assert _one_line(err) == (
            f"error: {path}, line 1, column {column!r}: a NUL character (\\u0000), which PostgreSQL cannot "
            "store in a text; remove it"
        )
    csv_path = _export(cli, tmp_path / "r.csv")
    with csv_path.open(encoding="utf-8", newline="") as f:
        header, row, *_ = csv.reader(f)
    row[header.index("note")] = "가" * 70_000 + "\x00"  # past the 64 KiB binary sniff
    with csv_path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, row])
    code, out, err = cli("review", "import", str(csv_path))
    assert code == 1 and "column 'note': a NUL character" in _one_line(err), err
    with session_scope(db_url) as s:
        assert {r.reviewer for r in s.scalars(select(Review))} == {"dacon"}  # as imported: nothing changed
