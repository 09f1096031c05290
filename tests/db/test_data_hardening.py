"""Hostile cells: spreadsheet formulas in CSV exports are made inert and the review import undoes
it exactly; `NaN`/`None`/`null`/`-` are refused like empty cells; an over-long cell is named with
the limit; edits to read-only columns of a review file are refused, naming row and column."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest
from db_helpers import TRAIN_HEADER, train_rows, write_csv
from sqlalchemy import func, select

from db.contact import mask_contacts
from db.dacon import import_dacon
from db.export import export_pairs
from db.models import Origin, QAPair, Question, Review, ReviewEvent
from db.review import import_review_file, set_review
from db.session import session_scope
from db.spreadsheet import TRIGGERS, neutralise, restore
from db.tabular import MAX_CELL_CHARS
from foundation.errors import InputError

HOSTILE = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://127.0.0.1/x","벽지 보기")',
    "+82 10 1234 5678 로 연락 주세요",
    "-1+1 은 결로 지수입니다",
    "@SUM(A1:A9) 벽지",
    "\t탭으로 시작하는 답변",
    "\r캐리지 리턴으로 시작",
    "'=이미 따옴표가 붙은 수식",
    "'평범한 따옴표",
]


def _state(url):
    with session_scope(url) as s:
        pairs = s.execute(select(QAPair.id, QAPair.question_text, QAPair.answer_text, QAPair.version)).all()
        reviews = s.execute(select(Review.pair_id, Review.status, Review.reasons, Review.note)).all()
        events = s.scalar(select(func.count()).select_from(ReviewEvent))
        questions = s.scalar(select(func.count()).select_from(Question))
    return sorted(map(tuple, pairs)), sorted(map(tuple, reviews)), events, questions


@pytest.fixture
def hostile(db_url):
    """One pair per hostile text (as question, answer, category and note), added through the ORM."""
    with session_scope(db_url) as s:
        for i, text in enumerate(HOSTILE):
            p = QAPair(
                key=f"manual:{i}",
                question_text=text,
                answer_text=f"{text} (답)",
                category=text[:50],
                origin=Origin.manual,
                group_id=f"-grp{i}" if i % 2 else f"=grp{i}",
            )
            s.add(p)
            s.flush()
            set_review(s, p.id, "approved", [], actor="kim", note=text)
    return db_url


def _cells(path):
    with path.open(encoding="utf-8", newline="") as f:
        return [cell for row in csv.reader(f) for cell in row]


def test_neutralise_is_exactly_reversible():
    for text in [*HOSTILE, "", "'", "''", "'-", "벽지", "=", "-"]:
        assert restore(neutralise(text)) == text
        assert not neutralise(text).startswith(TRIGGERS)
    assert neutralise(3) == 3 and restore(None) is None


def test_csv_export_has_no_formula_and_round_trips(hostile, tmp_path):
    before = _state(hostile)
    out = export_pairs(tmp_path / "r.csv", statuses=["all"], url=hostile).path
    cells = _cells(out)
    assert not [c for c in cells if c.startswith(TRIGGERS)]
    assert "'=cmd|' /C calc'!A0" in cells and "''=이미 따옴표가 붙은 수식" in cells
    assert "'평범한 따옴표" not in cells and "''평범한 따옴표" in cells
    s = import_review_file(out, reviewer="kim", url=hostile)
    assert (s.changed, s.unchanged) == (0, len(HOSTILE))
    assert _state(hostile) == before


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_jsonl_and_parquet_keep_the_text_as_it_is(hostile, tmp_path, fmt):
    out = export_pairs(tmp_path / f"r.{fmt}", statuses=["all"], url=hostile).path
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    else:
        rows = pd.read_parquet(out).to_dict(orient="records")
    # no formula guard; only the contact-details mask of every export (the URL in =HYPERLINK)
    assert [r["question"] for r in rows] == [mask_contacts(t) for t in HOSTILE]
    assert [r["note"] for r in rows] == HOSTILE
    assert import_review_file(out, reviewer="kim", url=hostile).changed == 0


def test_a_reviewers_edit_next_to_a_neutralised_cell(hostile, tmp_path):
    out = export_pairs(tmp_path / "r.csv", statuses=["all"], url=hostile).path
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rows[0]["status"] = "rejected"
    rows[1]["answer"] = "'=고친 답변"  # typed in a spreadsheet, guarded the same way
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    s = import_review_file(out, reviewer="kim", url=hostile)
    assert s.changed == 2
    with session_scope(hostile) as db:
        pairs = db.scalars(select(QAPair).order_by(QAPair.id)).all()
        assert pairs[0].question_text == HOSTILE[0] and pairs[0].review.status.value == "rejected"
        assert pairs[1].answer_text == "=고친 답변" and pairs[1].question_text == HOSTILE[1]


# --------------------------------------------------------------------------- placeholders


def _train_with(tmp_path, column: str, value: str):
    rows = train_rows(3)
    rows[1][TRAIN_HEADER.index(column)] = value
    return write_csv(tmp_path / "train.csv", TRAIN_HEADER, rows)


@pytest.mark.parametrize("value", ["NaN", "nan", "None", "null", "NULL", "-", " - "])
@pytest.mark.parametrize("column", ["답변_3", "질문_1", "category", "id"])
def test_dacon_train_refuses_placeholders(db_url, tmp_path, column, value):
    path = _train_with(tmp_path, column, value)
    with pytest.raises(InputError) as exc:
        import_dacon(path, url=db_url)
    msg = str(exc.value)
    assert f"train.csv, line 3, column {column!r}: {value.strip()!r} is a placeholder" in msg
    assert _state(db_url) == ([], [], 0, 0)


def test_dacon_test_refuses_placeholders(db_url, tmp_path, train_csv):
    test = write_csv(tmp_path / "test.csv", ["id", "질문"], [["TEST_000", "벽지?"], ["TEST_001", "None"]])
    with pytest.raises(InputError, match=r"test\.csv, line 3, column '질문': 'None' is a placeholder"):
        import_dacon(train_csv, test, url=db_url)
    assert _state(db_url) == ([], [], 0, 0)


def test_real_text_that_contains_a_placeholder_word_is_kept(db_url, tmp_path):
    path = _train_with(tmp_path, "답변_3", "None 이라고 적힌 라벨은 떼어내세요")
    assert import_dacon(path, url=db_url).pairs_added == 30


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("value", ["NaN", "null", "-", None])
def test_review_import_refuses_placeholder_texts(db_url, train_csv, tmp_path, fmt, value):
    import_dacon(train_csv, url=db_url)
    out = export_pairs(tmp_path / f"r.{fmt}", url=db_url).path
    df = pd.read_csv(out, dtype=str, keep_default_na=False) if fmt == "csv" else None
    if fmt == "csv":
        df.loc[1, "answer"] = value if value is not None else ""
        df.to_csv(out, index=False)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        rows[1]["answer"] = value
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    else:
        df = pd.read_parquet(out)
        df.loc[1, "answer"] = value
        df.to_parquet(out)
    before = _state(db_url)
    unit = "row" if fmt == "parquet" else "line"
    where = f"r.{fmt}, {unit} {3 if fmt == 'csv' else 2}, column 'answer'"
    with pytest.raises(InputError) as exc:
        import_review_file(out, reviewer="kim", url=db_url)
    assert where in str(exc.value)
    assert ("empty answer" if value is None else f"{value!r} is a placeholder") in str(exc.value)
    assert _state(db_url) == before


def test_train_reader_and_scorer_know_placeholders(tmp_path):
    from qa.pairs import read_export
    from qa.scoring import read_references

    refs = write_csv(tmp_path / "dev.csv", ["id", "답변_1", "답변_2"], [["A", "벽지입니다", "NaN"]])
    assert read_references(refs) == {"A": ["벽지입니다"]}
    export = tmp_path / "e.jsonl"
    export.write_text(
        json.dumps({"id": 1, "group_id": "g", "question": "null", "answer": "답", "status": "approved"})
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"e\.jsonl, line 1: field 'question': 'null' is a placeholder"):
        read_export(export)


# --------------------------------------------------------------------------- long cells


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_over_long_cell_is_named_with_the_limit(db_url, tmp_path, fmt):
    rows = train_rows(3)
    rows[2][TRAIN_HEADER.index("답변_2")] = "가" * (MAX_CELL_CHARS + 1)
    path = write_csv(tmp_path / "train.csv", TRAIN_HEADER, rows)
    if fmt == "csv":
        with pytest.raises(InputError) as exc:
            import_dacon(path, url=db_url)
        where = "train.csv, line 4, column '답변_2'"
    else:
        from db.tabular import read_jsonl

        jl = tmp_path / "t.jsonl"
        jl.write_text(json.dumps(dict(zip(TRAIN_HEADER, rows[2], strict=True))) + "\n", encoding="utf-8")
        with pytest.raises(InputError) as exc:
            read_jsonl(jl)
        where = "t.jsonl, line 1, column '답변_2'"
    msg = str(exc.value)
    assert where in msg and f"{MAX_CELL_CHARS + 1:,} characters" in msg and "131,072" in msg
    assert "check the quotes" not in msg
    assert _state(db_url) == ([], [], 0, 0)


def test_an_unclosed_quote_that_swallows_the_file_is_named(db_url, tmp_path):
    rows = train_rows(3)
    filler = "\n".join(",".join(r) for r in train_rows(1500, prefix="MORE"))
    text = ",".join(TRAIN_HEADER) + "\n" + ",".join(rows[0]) + '\nTRAIN_001,"벽지가 들떠요,' + filler + '"\n'
    path = tmp_path / "train.csv"
    path.write_text(text, encoding="utf-8")
    assert len(text) > MAX_CELL_CHARS
    with pytest.raises(
        InputError, match=r"train\.csv, line 3, column '질문_1': [\d,]+ characters, more than"
    ):
        import_dacon(path, url=db_url)


def test_a_cell_at_the_limit_is_accepted(db_url, tmp_path):
    path = _train_with(tmp_path, "답변_5", "가" * MAX_CELL_CHARS)
    assert import_dacon(path, url=db_url).pairs_added == 30


# --------------------------------------------------------------------------- read-only columns


@pytest.fixture
def exported_pair(db_url, train_csv):
    import_dacon(train_csv, url=db_url)
    with session_scope(db_url) as s:
        first = s.scalars(select(QAPair).order_by(QAPair.id)).first()
        child = QAPair(key="augment:1", question_text="벽지가 떠요?", answer_text="풀이 부족합니다.",
                       category="마감하자", origin=Origin.augment, group_id=first.group_id,
                       parent_id=first.id, source_groups=["dacon:TRAIN_001"])  # fmt: skip
        s.add(child)
    return db_url


EDITS = {
    "key": "dacon:TRAIN_999:q1:a1",
    "group_id": "dacon:TRAIN_999",
    "category": "마감하자2",
    "origin": "manual",
    "split": "valid",
    "parent_id": "2",  # the child's parent is pair 1
    "source_groups": '["dacon:TRAIN_000"]',
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("column", list(EDITS))
def test_edits_to_read_only_columns_are_refused(exported_pair, tmp_path, fmt, column):
    out = export_pairs(tmp_path / f"r.{fmt}", statuses=["all"], url=exported_pair).path
    before = _state(exported_pair)
    assert import_review_file(out, reviewer="kim", url=exported_pair).changed == 0  # as exported: fine
    last = 30  # the augmented child: parent_id and source_groups set
    if fmt == "csv":
        df = pd.read_csv(out, dtype=str, keep_default_na=False)
        df.loc[last, column] = EDITS[column]
        df.loc[last, "status"] = "rejected"
        df.to_csv(out, index=False)
        where = f"r.csv, line {last + 2}"
    else:
        if fmt == "jsonl":
            rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        else:
            rows = pd.read_parquet(out).to_dict(orient="records")
        value = EDITS[column]
        value = (
            json.loads(value) if column == "source_groups" else int(value) if column == "parent_id" else value
        )
        rows[last][column] = value
        rows[last]["status"] = "rejected"
        if fmt == "jsonl":
            out.write_text("".join(json.dumps(r, ensure_ascii=False, default=list) + "\n" for r in rows))
        else:
            df = pd.DataFrame(rows)
            df["source_groups"] = df["source_groups"].map(list)
            df.to_parquet(out)
        where = f"r.{fmt}, {'line' if fmt == 'jsonl' else 'row'} {last + 1}"
    with pytest.raises(InputError) as exc:
        import_review_file(out, reviewer="kim", url=exported_pair)
    assert f"{where}, column {column!r}: {column} is read-only" in str(exc.value)
    assert _state(exported_pair) == before


def test_a_blanked_read_only_cell_is_refused_too(exported_pair, tmp_path):
    out = export_pairs(tmp_path / "r.csv", statuses=["all"], url=exported_pair).path
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    df.loc[0, "category"] = ""
    df.to_csv(out, index=False)
    with pytest.raises(InputError, match=r"r\.csv, line 2, column 'category': category is read-only"):
        import_review_file(out, reviewer="kim", url=exported_pair)


def test_cli_review_import_names_the_read_only_cell(exported_pair, tmp_path, cli):
    out = export_pairs(tmp_path / "r.csv", statuses=["all"], url=exported_pair).path
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    df.loc[4, "origin"] = "manual"
    df.to_csv(out, index=False)
    code, _out, err = cli("review", "import", str(out))
    assert code == 1 and err.count("\n") == 1
    assert "r.csv, line 6, column 'origin': origin is read-only" in err
