"""`dobae import dacon`: shape of the imported data, idempotence, BOM/NFC, and every bad-input case."""

from __future__ import annotations

import unicodedata

import pytest
from db_helpers import TRAIN_HEADER, train_rows, write_csv
from sqlalchemy import func, select

from db.dacon import (
    SAMPLE_TEST,
    SAMPLE_TRAIN,
    import_dacon,
    import_sample,
    load_dacon_items,
    load_dacon_test,
    read_test,
    read_train,
)
from db.models import QAPair, Question, Review, ReviewEvent, ReviewStatus, Source, Split
from db.session import session_scope
from foundation.errors import InputError


def _counts(url: str) -> tuple[int, int, int, int, int]:
    with session_scope(url) as s:
        return (
            s.scalar(select(func.count()).select_from(QAPair)),
            s.scalar(select(func.count(func.distinct(QAPair.group_id)))),
            s.scalar(select(func.count()).select_from(Question)),
            s.scalar(select(func.count()).select_from(Review)),
            s.scalar(select(func.count()).select_from(ReviewEvent)),
        )


def test_import_shape(db_url, train_csv, test_csv):
    summary = import_dacon(train_csv, test_csv, url=db_url)
    assert (summary.pairs_added, summary.groups_added, summary.test_added) == (30, 3, 2)
    assert _counts(db_url) == (30, 3, 2, 30, 30)
    with session_scope(db_url) as s:
        pairs = s.scalars(
            select(QAPair).where(QAPair.group_id == "dacon:TRAIN_001").order_by(QAPair.id)
        ).all()
        assert [p.key for p in pairs][:3] == [
            "dacon:TRAIN_001:q1:a1",
            "dacon:TRAIN_001:q1:a2",
            "dacon:TRAIN_001:q1:a3",
        ]
        assert {p.question_text for p in pairs} == {"실크벽지는 무엇인가요?", "실크 벽지가 뭐예요?"}
        assert len({p.answer_text for p in pairs}) == 5
        assert {(p.origin.value, p.category, p.split) for p in pairs} == {("dacon", "마감재", None)}
        review = s.get(Review, pairs[0].id)
        assert (review.status, review.reviewer) == (ReviewStatus.approved, "dacon")
        event = s.scalar(select(ReviewEvent).where(ReviewEvent.pair_id == pairs[0].id))
        assert (event.from_status, event.to_status, event.actor) == (None, "approved", "dacon")
        q = s.scalar(select(Question).where(Question.external_id == "TEST_000"))
        assert q.split == Split.test and q.body.startswith("벽지가 들떠요. 또한,")
        assert s.scalar(select(Source.name).where(Source.id == q.source_id)) == "dacon"


def test_reimport_adds_nothing(db_url, train_csv, test_csv):
    import_dacon(train_csv, test_csv, url=db_url)
    before = _counts(db_url)
    again = import_dacon(train_csv, test_csv, url=db_url)
    assert (again.pairs_added, again.pairs_existing, again.test_added, again.test_existing) == (0, 30, 0, 2)
    assert again.pairs_differ == 0
    assert _counts(db_url) == before


def test_new_rows_are_added_to_an_existing_import(db_url, tmp_path):
    import_dacon(write_csv(tmp_path / "a.csv", TRAIN_HEADER, train_rows(2)), url=db_url)
    summary = import_dacon(write_csv(tmp_path / "b.csv", TRAIN_HEADER, train_rows(3)), url=db_url)
    assert (summary.pairs_added, summary.pairs_existing, summary.groups_added) == (10, 20, 1)
    assert _counts(db_url)[:2] == (30, 3)


def test_bom_and_nfc(sqlite_url, tmp_path):
    rows = train_rows(1)
    rows[0][1] = unicodedata.normalize("NFD", rows[0][1])  # a macOS-style decomposed question
    header = [unicodedata.normalize("NFD", c) for c in TRAIN_HEADER]
    path = write_csv(tmp_path / "nfd.csv", header, rows, bom=True)
    import_dacon(path, url=sqlite_url)
    with session_scope(sqlite_url) as s:
        item = load_dacon_items(s)[0]
    assert item.questions[0] == "도배지가 들뜨는 이유는?"
    assert unicodedata.is_normalized("NFC", item.questions[0])


def test_load_back_equals_the_file(db_url):
    summary = import_sample(url=db_url)
    assert (summary.pairs_added, summary.groups_added, summary.test_added) == (120, 12, 8)
    with session_scope(db_url) as s:
        assert load_dacon_items(s) == read_train(SAMPLE_TRAIN)
        assert load_dacon_test(s) == read_test(SAMPLE_TEST)
        assert load_dacon_items(s, source="dacon") == []


def test_shipped_sample_is_well_formed():
    items, tests = read_train(SAMPLE_TRAIN), read_test(SAMPLE_TEST)
    assert len(items) >= 10 and len(tests) >= 6
    assert all(len(set(i.answers)) == 5 and i.questions[0] != i.questions[1] for i in items)
    assert any("또한," in t.question or "그리고" in t.question for t in tests)


def test_bad_test_file_writes_nothing_not_even_the_valid_train(db_url, train_csv, tmp_path):
    bad = write_csv(tmp_path / "t.csv", ["id", "질문"], [["TEST_000", "질문입니다"], ["TEST_001", ""]])
    with pytest.raises(InputError, match=r"t\.csv, line 3, column '질문': empty cell"):
        import_dacon(train_csv, bad, url=db_url)
    assert _counts(db_url) == (0, 0, 0, 0, 0)


def _train(tmp_path, rows=None, header=TRAIN_HEADER, name="train.csv"):
    return write_csv(tmp_path / name, header, train_rows(3) if rows is None else rows)


def _bytes(tmp_path, data: bytes, name="train.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


BAD_TRAIN = {
    "missing column": (
        lambda p: _train(p, [r[:-1] for r in train_rows(2)], TRAIN_HEADER[:-1]),
        r"train\.csv, line 1: missing column\(s\) '답변_5'",
    ),
    "extra column": (
        lambda p: _train(p, [r + ["x"] for r in train_rows(2)], TRAIN_HEADER + ["비고"]),
        r"train\.csv, line 1: unexpected column\(s\) '비고'",
    ),
    "empty cell": (
        lambda p: _train(p, [*train_rows(2), ["TRAIN_009", "질문", "", "마감재", "a", "b", "c", "d", "e"]]),
        r"train\.csv, line 4, column '질문_2': empty cell",
    ),
    "blank-only cell": (
        lambda p: _train(p, [["TRAIN_000", "질문", "질문2", "   ", "a", "b", "c", "d", "e"]]),
        r"train\.csv, line 2, column 'category': empty cell",
    ),
    "duplicate id": (
        lambda p: _train(p, [*train_rows(2), train_rows(1)[0]]),
        r"train\.csv, line 4, column 'id': duplicate id 'TRAIN_000' \(first on line 2\)",
    ),
    "row with too many fields": (
        lambda p: _train(p, [*train_rows(1), train_rows(2)[1] + ["남는 값"]]),
        r"train\.csv, line 3: 10 fields but the header has 9 columns",
    ),
    "row with too few fields": (
        lambda p: _train(p, [*train_rows(1), train_rows(2)[1][:7]]),
        r"train\.csv, line 3, column '답변_4': missing",
    ),
    "CP949 bytes": (
        lambda p: _bytes(
            p,
            _train(p).read_bytes().replace("PVC 코팅을".encode(), "PVC 코팅을".encode("cp949")),
        ),
        r"train\.csv, line 3, column '답변_1': not UTF-8 \(bytes [0-9a-f ]+…\).*save it as UTF-8",
    ),
    "CP949 header": (
        lambda p: _bytes(p, ",".join(TRAIN_HEADER).encode("cp949") + b"\n"),
        r"train\.csv, line 1, header column 2: not UTF-8",
    ),
    "Excel file": (
        lambda p: _bytes(p, b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64, "train.xlsx"),
        r"train\.xlsx: not a CSV file \(it is a zip/Excel file\)",
    ),
    "binary file": (
        lambda p: _bytes(p, b"id,\xec\xa7\x88\n\x00\x01\x02\x03garbage"),
        r"train\.csv, line 2: not a CSV file \(binary data",
    ),
    "JSON file": (
        lambda p: _bytes(p, '{"id": "TRAIN_000", "질문_1": "q"}\n'.encode(), "train.json"),
        r"train\.json, line 1: missing column\(s\)",
    ),
    "tab-separated": (
        lambda p: _bytes(p, ("\t".join(TRAIN_HEADER) + "\n").encode()),
        r"line 1: missing column\(s\).*tab- or semicolon-separated",
    ),
    "unterminated quote": (
        lambda p: _bytes(p, (",".join(TRAIN_HEADER) + '\nTRAIN_000,"질문,b,c,d,e,f,g,h\n').encode()),
        r"train\.csv, line \d+: malformed CSV",
    ),
    "empty file": (lambda p: _bytes(p, b"\xef\xbb\xbf\n\n"), r"train\.csv: the file is empty"),
    "header only": (lambda p: _train(p, []), r"train\.csv: no data rows after the header"),
    "test file passed as train": (
        lambda p: write_csv(p / "test.csv", ["id", "질문"], [["TEST_000", "질문"]]),
        r"test\.csv, line 1: missing column\(s\).*looks like a test file: pass it with --test",
    ),
    "no such file": (lambda p: p / "nope.csv", r"nope\.csv: no such file"),
    "answer in the category column": (
        lambda p: _train(p, [["TRAIN_000", "질문", "질문2", "가" * 150, "a", "b", "c", "d", "e"]]),
        r"train\.csv, line 2, column 'category': 150 characters, at most 100 fit",
    ),
    "answer whose export would not import back": (  # issue 21 item 8: masked, it outgrows a cell
        lambda p: _train(p, [["TRAIN_000", "질문", "질문2", "마감재", "a", "b", "@ab." * 14_564, "d", "e"]]),
        r"train\.csv, line 2, column '답변_3': 58,256 characters \(131,076 as exported\), more than the "
        r"131,072 a cell of a review file holds",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TRAIN))
def test_bad_train_input(case, db_url, tmp_path):
    make, pattern = BAD_TRAIN[case]
    with pytest.raises(InputError, match=pattern):
        import_dacon(make(tmp_path), url=db_url)
    assert _counts(db_url) == (0, 0, 0, 0, 0)


BAD_TEST = {
    "train file passed as test": (
        lambda p: _train(p),
        r"unexpected column\(s\) '질문_1'.*looks like a train file: pass it as TRAIN, not with --test",
    ),
    "duplicate id": (
        lambda p: write_csv(p / "test.csv", ["id", "질문"], [["TEST_000", "가"], ["TEST_000", "나"]]),
        r"test\.csv, line 3, column 'id': duplicate id 'TEST_000'",
    ),
    "extra column": (
        lambda p: write_csv(p / "test.csv", ["id", "질문", "답변"], [["TEST_000", "가", "나"]]),
        r"test\.csv, line 1: unexpected column\(s\) '답변'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TEST))
def test_bad_test_input(case, db_url, tmp_path, train_csv):
    make, pattern = BAD_TEST[case]
    with pytest.raises(InputError, match=pattern):
        import_dacon(train_csv, make(tmp_path), url=db_url)
    assert _counts(db_url) == (0, 0, 0, 0, 0)


def test_multiline_cells_report_the_editor_line(sqlite_url, tmp_path):
    rows = train_rows(2)
    rows[0][4] = "첫 줄\n둘째 줄\n셋째 줄"  # a quoted answer spanning three lines
    rows[1][3] = ""
    path = write_csv(tmp_path / "train.csv", TRAIN_HEADER, rows)
    with pytest.raises(InputError, match=r"line 5, column 'category'"):
        import_dacon(path, url=sqlite_url)


def test_cli_import_and_error(sqlite_url, cli, train_csv, test_csv, tmp_path):
    code, _out, err = cli("import", "dacon", str(train_csv), "--test", str(test_csv))
    assert code == 0, err
    assert "30 pairs in 3 groups, 2 test questions" in err
    code, _out, err = cli("import", "dacon", str(train_csv), "--test", str(test_csv))
    assert code == 0 and "0 added, 30 already imported" in err
    bad = write_csv(tmp_path / "bad.csv", ["id", "질문"], [["TEST_000", ""]])
    code, _out, err = cli("import", "dacon", "--test", str(bad))
    assert code == 1
    assert err.strip().count("\n") == 0 and "bad.csv, line 2, column '질문': empty cell" in err
    code, _out, err = cli("import", "dacon", "--sample")
    assert code == 0 and "120 pairs in 12 groups, 8 test questions" in err
