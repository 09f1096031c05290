"""`dobae export`: fixed columns, id order, filters, byte-identical re-exports, sha256 in the exports table."""

from __future__ import annotations

import csv
import hashlib
import json

import pandas as pd
import pytest
from sqlalchemy import select

from db.dacon import import_dacon
from db.export import EXPORT_COLUMNS, export_pairs
from db.models import Export, Origin, QAPair
from db.review import set_review
from db.session import session_scope
from foundation.errors import InputError


@pytest.fixture
def imported(db_url, train_csv):
    import_dacon(train_csv, url=db_url)
    with session_scope(db_url) as s:
        ids = s.scalars(select(QAPair.id).order_by(QAPair.id)).all()
        set_review(s, ids[0], "rejected", ["too_short"], actor="kim")
        set_review(s, ids[1], "needs_review", ["near_duplicate"], actor="machine:augment")
        s.add(
            QAPair(
                key="manual:1",
                question_text="벽지 얼룩은 어떻게 지우나요?",
                answer_text="중성세제로 닦습니다.",
                category="마감하자",
                origin=Origin.manual,
                group_id="manual:1",
                parent_id=ids[2],
            )
        )
    return db_url, ids


def _read(path, fmt):
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "csv":
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    return pd.read_parquet(path).to_dict(orient="records")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_is_deterministic_and_recorded(imported, tmp_path, fmt):
    url, ids = imported
    a = export_pairs(tmp_path / f"a.{fmt}", url=url)
    b = export_pairs(tmp_path / f"b.{fmt}", fmt=fmt, url=url)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.sha256 == b.sha256 == hashlib.sha256(a.path.read_bytes()).hexdigest()
    assert a.rows == 28  # 30 dacon pairs, one rejected, one needs_review; the manual pair is pending
    rows = _read(a.path, fmt)
    assert list(rows[0]) == EXPORT_COLUMNS
    assert [int(r["id"]) for r in rows] == ids[2:]
    assert rows[0]["question"] == "도배지가 들뜨는 이유는?" and rows[0]["status"] == "approved"
    with session_scope(url) as s:
        rec = s.get(Export, a.export_id)
        assert (rec.sha256, rec.rows, rec.format) == (a.sha256, 28, fmt)
        assert rec.filter == {"status": ["approved"]} and rec.path == str(a.path.resolve())


def test_filters_and_columns(imported, tmp_path):
    url, ids = imported
    res = export_pairs(tmp_path / "r.jsonl", statuses=["rejected", "needs_review"], url=url)
    rows = _read(res.path, "jsonl")
    assert [(r["id"], r["status"], r["reasons"], r["version"]) for r in rows] == [
        (ids[0], "rejected", ["too_short"], 2),  # a change after the first verdict bumps the version
        (ids[1], "needs_review", ["near_duplicate"], 2),
    ]
    manual = _read(export_pairs(tmp_path / "m.csv", statuses=["pending"], url=url).path, "csv")
    assert [(m["origin"], m["parent_id"], m["status"], m["reasons"], m["split"]) for m in manual] == [
        ("manual", str(ids[2]), "pending", "[]", "")
    ]
    every = export_pairs(
        tmp_path / "all.csv", statuses=["all"], origins=["dacon"], categories=["마감재"], url=url
    )
    assert every.rows == 20  # TRAIN_001 and TRAIN_002 are 마감재
    assert {r["category"] for r in _read(every.path, "csv")} == {"마감재"}


def test_bad_arguments(imported, tmp_path):
    url, _ = imported
    with pytest.raises(InputError, match="--status 'aproved': use one of"):
        export_pairs(tmp_path / "x.jsonl", statuses=["aproved"], url=url)
    with pytest.raises(InputError, match="cannot tell the format"):
        export_pairs(tmp_path / "x.txt", url=url)
    with pytest.raises(InputError, match="--format 'xlsx'"):
        export_pairs(tmp_path / "x.jsonl", fmt="xlsx", url=url)
    assert not list(tmp_path.glob("x.*"))


def test_cli_prints_sha256(imported, cli, tmp_path):
    out = tmp_path / "e.jsonl"
    code, stdout, err = cli("export", "--status", "approved", "--format", "jsonl", "--out", str(out))
    assert code == 0, err
    assert stdout.split()[:2] == ["sha256", hashlib.sha256(out.read_bytes()).hexdigest()]
    assert "exported 28 pairs" in err
