"""Review API (`set_review`) and the review round trip: export -> edit -> `dobae review import`."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from db.dacon import import_dacon
from db.export import export_pairs
from db.models import QAPair, Review, ReviewEvent, ReviewStatus
from db.review import apply_change, import_review_file, set_review
from db.session import session_scope
from foundation.errors import InputError


@pytest.fixture
def imported(db_url, train_csv):
    import_dacon(train_csv, url=db_url)
    return db_url


def _state(url):
    """Everything a review import may change: texts, versions, reviews, events."""
    with session_scope(url) as s:
        pairs = s.execute(
            select(QAPair.id, QAPair.question_text, QAPair.answer_text, QAPair.version).order_by(QAPair.id)
        ).all()
        reviews = s.execute(
            select(Review.pair_id, Review.status, Review.reasons, Review.note, Review.reviewer).order_by(
                Review.pair_id
            )
        ).all()
        events = s.scalar(select(func.count()).select_from(ReviewEvent))
    return [tuple(p) for p in pairs], [tuple(r) for r in reviews], events


def _edit_csv(src, dst, edits: dict[int, dict[str, str]], bom=True):
    with src.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for i, change in edits.items():
        rows[i].update(change)
    with dst.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return dst


def test_set_review_writes_state_and_event(sqlite_url):
    with session_scope(sqlite_url) as s:
        p = QAPair(key="k", question_text="질문", answer_text="답변", origin="augment", group_id="g")
        s.add(p)
        s.flush()
        first = set_review(s, p.id, "needs_review", ["near_duplicate"], actor="machine:augment")
        assert first.from_status is None and first.to_status == "needs_review"
        assert p.version == 1  # the first verdict is part of creating the pair
        assert set_review(s, p.id, ReviewStatus.needs_review, ["near_duplicate"], actor="x") is None
        second = set_review(s, p.id, "approved", [], actor="kim", note="확인함")
        assert second.changes == {
            "status": ["needs_review", "approved"],
            "reasons": [["near_duplicate"], []],
            "note": [None, "확인함"],
        }
        assert (s.get(Review, p.id).status, s.get(Review, p.id).reviewer) == (ReviewStatus.approved, "kim")
        s.refresh(p)
        assert p.version == 2
        with pytest.raises(InputError, match="'ok' is not a review status"):
            set_review(s, p.id, "ok", actor="kim")
        with pytest.raises(Exception, match="changed since it was read"):
            apply_change(s, p.id, actor="kim", answer_text="새 답변", expected_version=1)


def test_json_columns_keep_korean_readable(sqlite_url):
    with session_scope(sqlite_url) as s:
        p = QAPair(key="k", question_text="질문", answer_text="답변", origin="manual", group_id="g")
        s.add(p)
        s.flush()
        set_review(s, p.id, "rejected", ["오탈자"], actor="kim")
        assert "오탈자" in s.execute(text("SELECT reasons FROM review_queue")).scalar()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_round_trip(imported, tmp_path, fmt, cli):
    url = imported
    exported = export_pairs(tmp_path / f"review.{fmt}", statuses=["all"], url=url).path
    if fmt == "csv":
        edited = _edit_csv(
            exported,
            tmp_path / "edited.csv",
            {
                0: {"status": "rejected", "reasons": "off_topic; too_short"},
                1: {"answer": "풀칠이 부족하거나 바탕면이 젖어 있으면 들뜹니다.", "note": "답변 보강"},
                2: {"status": "needs_review", "question": "도배지가 들뜨는 원인은 무엇인가요?"},
            },
        )
    else:
        rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
        rows[0].update(status="rejected", reasons=["off_topic", "too_short"])
        rows[1].update(answer="풀칠이 부족하거나 바탕면이 젖어 있으면 들뜹니다.", note="답변 보강")
        rows[2].update(status="Needs_Review", question="도배지가 들뜨는 원인은 무엇인가요?")
        edited = tmp_path / "edited.jsonl"
        edited.write_text(
            "\ufeff" + "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )

    code, _out, err = cli("review", "import", str(edited), "--reviewer", "kim")
    assert code == 0, err
    assert "changed 3 (2 with corrected texts)" in err
    with session_scope(url) as s:
        ids = s.scalars(select(QAPair.id).order_by(QAPair.id)).all()
        r0, r1, r2 = (s.get(Review, i) for i in ids[:3])
        assert (r0.status, r0.reasons, r0.reviewer) == (
            ReviewStatus.rejected,
            ["off_topic", "too_short"],
            "kim",
        )
        p1, p2 = s.get(QAPair, ids[1]), s.get(QAPair, ids[2])
        assert p1.answer_text == "풀칠이 부족하거나 바탕면이 젖어 있으면 들뜹니다." and r1.note == "답변 보강"
        assert r1.status == ReviewStatus.approved and p1.version == 2
        assert (p2.question_text, r2.status, p2.version) == (
            "도배지가 들뜨는 원인은 무엇인가요?",
            ReviewStatus.needs_review,
            2,
        )
        events = s.scalars(
            select(ReviewEvent).where(ReviewEvent.actor == "kim").order_by(ReviewEvent.id)
        ).all()
        assert [(e.pair_id, e.from_status, e.to_status) for e in events] == [
            (ids[0], "approved", "rejected"),
            (ids[1], "approved", "approved"),
            (ids[2], "approved", "needs_review"),
        ]
        assert events[1].changes["answer_text"][1] == "풀칠이 부족하거나 바탕면이 젖어 있으면 들뜹니다."
        assert all(e.at is not None for e in events)
        queue = s.execute(
            text("SELECT status, version FROM review_queue WHERE pair_id = :i"), {"i": ids[0]}
        ).one()
        assert tuple(queue) == ("rejected", 2)
    before = _state(url)
    again = import_review_file(edited, reviewer="kim", url=url)
    assert (again.changed, again.unchanged) == (0, 30)
    assert _state(url) == before


def test_parquet_round_trip(imported, tmp_path):
    url = imported
    exported = export_pairs(tmp_path / "r.parquet", url=url).path
    df = pd.read_parquet(exported)
    df.loc[0, "status"] = "rejected"
    df.at[0, "reasons"] = ["wrong_fact"]
    df.to_parquet(tmp_path / "edited.parquet", index=False)
    summary = import_review_file(tmp_path / "edited.parquet", reviewer="lee", url=url)
    assert summary.changed == 1 and summary.transitions == {("approved", "rejected"): 1}
    with session_scope(url) as s:
        review = s.get(Review, int(df.loc[0, "id"]))
        assert (review.status, review.reasons, review.reviewer) == (
            ReviewStatus.rejected,
            ["wrong_fact"],
            "lee",
        )


def test_conflict_since_export_changes_nothing(imported, tmp_path):
    url = imported
    exported = export_pairs(tmp_path / "r.csv", url=url).path
    edited = _edit_csv(
        exported, tmp_path / "edited.csv", {0: {"status": "rejected"}, 4: {"status": "rejected"}}
    )
    with session_scope(url) as s:  # another reviewer changes row 5's pair after the export
        pid = s.scalars(select(QAPair.id).order_by(QAPair.id)).all()[4]
        apply_change(s, pid, actor="park", answer_text="다른 사람이 고친 답변입니다.")
    before = _state(url)
    with pytest.raises(
        InputError,
        match=r"edited\.csv, line 6, column 'version': pair \d+ changed in the "
        r"database since the export \(version 1 in the file, 2 now",
    ):
        import_review_file(edited, reviewer="kim", url=url)
    assert _state(url) == before


BAD = {
    "unknown id": (
        {0: {"status": "rejected"}, 3: {"id": "999999"}},
        r"line 5, column 'id': no pair with id 999999 in the database",
    ),
    "invalid status": (
        {0: {"status": "rejected"}, 2: {"status": "aproved"}},
        r"line 4, column 'status': 'aproved' is not a review status; use one of pending, approved",
    ),
    "empty status": ({1: {"status": ""}}, r"line 3, column 'status': '' is not a review status"),
    "version not a number": (
        {0: {"status": "rejected"}, 1: {"version": "v1"}},
        r"line 3, column 'version': version 'v1' is not a whole number",
    ),
    "bad reasons": ({0: {"reasons": '["unclosed"'}}, r"line 2, column 'reasons': .* is not a JSON list"),
    "blanked answer": (
        {0: {"status": "rejected"}, 2: {"answer": "  "}},
        r"line 4, column 'answer': empty answer; set status to rejected",
    ),
    "duplicate id": (
        {0: {"status": "rejected"}, 2: {"id": "FIRST"}},
        r"line 4, column 'id': pair \d+ appears twice \(first at line 2\)",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_review_file_changes_nothing(case, imported, tmp_path):
    url = imported
    exported = export_pairs(tmp_path / "r.csv", url=url).path
    edits, pattern = BAD[case]
    with exported.open(encoding="utf-8") as f:
        first_id = next(csv.DictReader(f))["id"]
    edits = {i: {k: (first_id if v == "FIRST" else v) for k, v in e.items()} for i, e in edits.items()}
    edited = _edit_csv(exported, tmp_path / "edited.csv", edits)
    before = _state(url)
    with pytest.raises(InputError, match=pattern):
        import_review_file(edited, reviewer="kim", url=url)
    assert _state(url) == before


def test_missing_columns_and_unknown_format(imported, tmp_path):
    url = imported
    path = tmp_path / "x.csv"
    path.write_text("id,status\n1,approved\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"x\.csv, line 1: missing column\(s\) 'version'"):
        import_review_file(path, url=url)
    (tmp_path / "x.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(InputError, match="unknown file type '.xlsx'"):
        import_review_file(tmp_path / "x.xlsx", url=url)
    (tmp_path / "x.jsonl").write_text(
        '{"id": 1, "version": 1, "status": "approved"}\n[1]\n', encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"x\.jsonl, line 2: expected a JSON object"):
        import_review_file(tmp_path / "x.jsonl", url=url)


def test_dry_run_writes_nothing(imported, tmp_path, cli):
    url = imported
    exported = export_pairs(tmp_path / "r.csv", url=url).path
    edited = _edit_csv(exported, tmp_path / "edited.csv", {0: {"status": "rejected"}})
    before = _state(url)
    code, _out, err = cli("review", "import", str(edited), "--dry-run")
    assert code == 0 and "would change 1" in err
    assert _state(url) == before


def test_review_queue_view(db_url):
    with session_scope(db_url) as s:
        parent = QAPair(
            key="m:1", question_text="원래 질문", answer_text="원래 답변", origin="manual", group_id="g1"
        )
        s.add(parent)
        s.flush()
        child = QAPair(
            key="a:1",
            question_text="바꾼 질문",
            answer_text="원래 답변",
            origin="augment",
            group_id="g1",
            parent_id=parent.id,
        )
        s.add(child)
        s.flush()
        set_review(s, child.id, "needs_review", ["semantic_drift"], actor="machine:augment", note="의미 확인")
    with session_scope(db_url) as s:
        rows = s.execute(
            text(
                "SELECT key, status, origin, parent_question_text, note, reviewer, version "
                "FROM review_queue ORDER BY pair_id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("m:1", "pending", "manual", None, None, None, 1),
        ("a:1", "needs_review", "augment", "원래 질문", "의미 확인", "machine:augment", 1),
    ]


def test_jsonl_text_with_unicode_line_separator(imported, tmp_path):
    url = imported
    exported = export_pairs(tmp_path / "r.jsonl", url=url).path
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").split("\n") if line]
    rows[0]["answer"] = "첫 문장입니다.\u2028둘째 문장입니다."
    edited = tmp_path / "e.jsonl"
    edited.write_text("".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in rows), encoding="utf-8")
    assert import_review_file(edited, reviewer="kim", url=url).text_edits == 1
    with session_scope(url) as s:
        assert s.get(QAPair, rows[0]["id"]).answer_text == "첫 문장입니다.\u2028둘째 문장입니다."


# ----------------------------------------------------------------------------- a verdict holds for its text


def _crawl_pair(url, answer="초배를 다시 하고 풀을 충분히 바르면 들뜬 곳이 붙습니다.") -> int:
    with session_scope(url) as s:
        p = QAPair(
            key="crawl:x:a1", question_text="벽지가 들떠요", answer_text=answer, origin="crawl", group_id="g"
        )
        s.add(p)
        s.flush()
        set_review(s, p.id, "needs_review", [], actor="machine:curate")
        return p.id


def test_bulk_approval_never_approves_text_the_verdict_was_not_given_on(db_url, tmp_path):
    """Issue 21 item 2: the text changes after curation without going through a review (a write
    that did not reopen it): the clean verdict is for other text, so nothing is approved, and an
    approval of other text never reaches the approved export."""
    from db.review import approve_unflagged, holds, text_hash

    pid = _crawl_pair(db_url)
    with session_scope(db_url) as s:
        review = s.get(Review, pid)
        assert review.text_sha256 == text_hash("벽지가 들떠요", s.get(QAPair, pid).answer_text)
        s.execute(
            text("UPDATE qa_pairs SET answer_text = '최저가 시공! 010-1234-5678' WHERE id = :i"), {"i": pid}
        )
    summary = approve_unflagged("crawl", reviewer="kim", url=db_url)
    assert (summary.approved, summary.stale) == (0, 1)

    # approved on the first text, then the text changed: not in the approved export, shown pending
    with session_scope(db_url) as s:
        s.execute(text("UPDATE qa_pairs SET answer_text = '초배를 다시 하세요.' WHERE id = :i"), {"i": pid})
        set_review(s, pid, "approved", [], actor="kim")
        s.execute(
            text("UPDATE qa_pairs SET answer_text = '최저가 시공! 010-1234-5678' WHERE id = :i"), {"i": pid}
        )
    with session_scope(db_url) as s:
        assert not holds(s.get(Review, pid), "벽지가 들떠요", "최저가 시공! 010-1234-5678")
    assert export_pairs(tmp_path / "approved.jsonl", url=db_url).rows == 0
    export_pairs(tmp_path / "all.jsonl", statuses=["all"], url=db_url)
    [row] = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()]
    assert row["status"] == "pending"
    # a person approving that row again approves the text they saw: it is a change, and it holds
    row["status"] = "approved"
    (tmp_path / "edit.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    assert import_review_file(tmp_path / "edit.jsonl", reviewer="lee", url=db_url).changed == 1
    assert export_pairs(tmp_path / "approved2.jsonl", url=db_url).rows == 1


def test_every_stored_pair_text_imports_back_after_masking(db_url, tmp_path, train_csv):
    """Issue 21 item 8: a pair holds a text only when its exported cell — contact details masked
    (`@ab.` becomes `[메신저 아이디]`: 2.25x), CSV guard added — fits what `dobae review import`
    reads (MAX_CELL_CHARS); so the longest text DACON can bring in imports back, one handle more is
    refused in one line, and so is a review file's edit that would not fit."""
    from db.tabular import MAX_CELL_CHARS

    def dacon_with(answer: str):
        rows = list(csv.reader(train_csv.open(encoding="utf-8")))
        rows[1][-1] = answer
        path = tmp_path / "train.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows)
        return path

    fits = "가 " + "@ab." * ((MAX_CELL_CHARS - 2) // 9)  # 58,254 characters, 131,069 as exported
    with pytest.raises(
        InputError, match=r"line 2, column '답변_5': 58,258 characters \(131,078 as exported\)"
    ):
        import_dacon(dacon_with(fits + "@ab."), url=db_url)
    assert import_dacon(dacon_with(fits), url=db_url).pairs_added == 30
    for fmt in ("jsonl", "csv", "parquet"):
        out = export_pairs(tmp_path / f"all.{fmt}", statuses=["all"], url=db_url)
        summary = import_review_file(out.path, reviewer="kim", url=db_url)
        assert (summary.rows, summary.changed) == (30, 0)
    rows = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()]
    longest = max(rows, key=lambda r: len(r["answer"]))
    assert len(longest["answer"]) == 131_069

    longest["answer"] = "초배" + "@ab." * ((MAX_CELL_CHARS - 2) // 9 + 1)  # an edit that would not fit
    (tmp_path / "edit.jsonl").write_text(json.dumps(longest, ensure_ascii=False) + "\n", encoding="utf-8")
    before = _state(db_url)
    with pytest.raises(
        InputError, match=r"line 1, column 'answer': [\d,]+ characters \(131,07\d as exported\)"
    ):
        import_review_file(tmp_path / "edit.jsonl", reviewer="kim", url=db_url)
    assert _state(db_url) == before
