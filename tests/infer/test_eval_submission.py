"""Submission writing and validation; `dobae submit` and `dobae evaluate` end to end on a database."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from foundation.errors import DobaeError, InputError
from infer.submission import check_submission_file, validate, write_submission

IDS = ["TEST_000", "TEST_001", "TEST_002"]


def _vecs(n=3, dim=512):
    return np.random.default_rng(0).normal(size=(n, dim)).astype(np.float32)


def test_validate_accepts_a_good_submission():
    validate(IDS, IDS, ["가", "나", "다"], _vecs())


@pytest.mark.parametrize(
    ("ids", "answers", "vecs", "message"),
    [
        (IDS[:2], ["가", "나"], _vecs(2), "for 3 questions"),
        (["TEST_000", "TEST_002", "TEST_001"], ["가", "나", "다"], _vecs(), "expected 'TEST_001'"),
        (["TEST_000", "TEST_000", "TEST_002"], ["가", "나", "다"], _vecs(), "appears twice"),
        (IDS, ["가", " ", "다"], _vecs(), "is empty"),
        (IDS, ["가", "나", "다"], _vecs(dim=384), "expected \\(3, 512\\)"),
    ],
)
def test_validate_rejects(ids, answers, vecs, message):
    with pytest.raises(DobaeError, match=message):
        validate(ids, IDS, answers, vecs)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_validate_rejects_non_finite(bad):
    v = _vecs()
    v[1, 17] = bad
    with pytest.raises(DobaeError, match="TEST_001.*non-finite"):
        validate(IDS, IDS, ["가", "나", "다"], v)


def test_write_refuses_overwrite_without_force(tmp_path):
    v = _vecs()
    write_submission(tmp_path, IDS, ["질문1", "질문2", "질문3"], ["가", "나", "다"], v)
    np.testing.assert_allclose(check_submission_file(tmp_path / "submission.csv", IDS), v, rtol=1e-6)
    before = (tmp_path / "submission.csv").read_bytes()
    with pytest.raises(InputError, match="--force"):
        write_submission(tmp_path, IDS, ["질문1", "질문2", "질문3"], ["가", "나", "다"], 2 * v)
    assert (tmp_path / "submission.csv").read_bytes() == before
    write_submission(tmp_path, IDS, ["질문1", "질문2", "질문3"], ["라", "나", "다"], 2 * v, force=True)
    np.testing.assert_allclose(check_submission_file(tmp_path / "submission.csv", IDS), 2 * v, rtol=1e-6)
    rows = list(csv.reader((tmp_path / "answers.csv").open(encoding="utf-8")))
    assert rows[0] == ["id", "질문", "answer"] and rows[1] == ["TEST_000", "질문1", "라"]


def test_a_failed_validation_writes_nothing(tmp_path):
    v = _vecs()
    v[0, 0] = np.nan
    with pytest.raises(DobaeError):
        write_submission(tmp_path / "out", IDS, ["a", "b", "c"], ["가", "나", "다"], v)
    assert not (tmp_path / "out").exists()


def test_dobae_submit_end_to_end(db_url, train_csv, test_csv, tmp_path, capsys):
    from db.dacon import import_dacon
    from dobae.cli import main

    import_dacon(train_csv, url=db_url)
    out = tmp_path / "sub"
    main(
        [
            "submit",
            "--questions",
            str(test_csv),
            "--answerer",
            "retrieval",
            "-o",
            "compose=top1",
            "--out",
            str(out),
            "--embedder",
            "muse3",
        ]
    )
    printed = capsys.readouterr()
    assert "3 × 513" in printed.out and "muse3-w128" in printed.out
    vecs = check_submission_file(out / "submission.csv", IDS)
    assert vecs.shape == (3, 512) and np.isfinite(vecs).all()
    answers = list(csv.DictReader((out / "answers.csv").open(encoding="utf-8")))
    assert [a["id"] for a in answers] == IDS
    assert "결로와 환기 부족" in answers[0]["answer"] and "습기와 오염에 약하고" in answers[0]["answer"]
    import json

    meta = json.loads((out / "submission.json").read_text(encoding="utf-8"))
    assert meta["answerer"] == "retrieval" and meta["config"]["compose"] == "top1"
    assert meta["embedder"] == "muse3-w128" and meta["embedder_is_proxy"] is True and meta["rows"] == 3

    with pytest.raises(SystemExit) as exc:  # exists: refused, one line, exit 1
        main(["submit", "--questions", str(test_csv), "--out", str(out), "--embedder", "muse3"])
    assert exc.value.code == 1 and "--force" in capsys.readouterr().err
    main(
        [
            "submit",
            "--questions",
            str(test_csv),
            "--answerer",
            "constant",
            "--out",
            str(out),
            "--embedder",
            "muse3",
            "--force",
        ]
    )
    answers = list(csv.DictReader((out / "answers.csv").open(encoding="utf-8")))
    assert len({a["answer"] for a in answers}) == 1


def test_submit_without_imported_rows_says_what_to_do(sqlite_url, test_csv, tmp_path, capsys):
    from dobae.cli import main

    with pytest.raises(SystemExit):
        main(["submit", "--questions", str(test_csv), "--out", str(tmp_path / "o"), "--embedder", "muse3"])
    assert "dobae import dacon" in capsys.readouterr().err


def test_dobae_evaluate_stores_a_row(db_url, train_csv, items, capsys):
    from sqlalchemy import select

    from db.dacon import import_dacon
    from db.models import Evaluation
    from db.session import session_scope
    from dobae.cli import main
    from infer.evaluation.cv import data_sha256

    import_dacon(train_csv, url=db_url)
    main(["evaluate", "--answerer", "retrieval", "--folds", "2", "-o", "k=2", "--embedder", "muse3"])
    printed = capsys.readouterr().out
    assert "retrieval, 2-fold CV" in printed and "single" in printed and "category 마감재" in printed
    with session_scope(db_url) as s:
        rows = s.scalars(select(Evaluation)).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.answerer == "retrieval" and row.folds == 2
        assert row.embedder == "muse3-w128" and row.git_commit
        assert row.config["k"] == 2 and row.config["compose"] == "centroid"
        assert row.data_sha256 == data_sha256(items)
        assert len(row.breakdown["fold_means"]) == 2
        assert row.mean == pytest.approx(np.mean(row.breakdown["fold_means"]))
        assert 0.0 <= row.mean <= 1.0 and row.std >= 0.0
        assert set(row.breakdown["by_kind"]) <= {"single", "double"}


def test_answers_and_answered_by_csv_never_run_as_formulas(tmp_path):
    """Issue 21 item 12: ids and texts that a spreadsheet would run (`=HYPERLINK(…)`, `@SUM(1)`)
    get the export's formula guard in answers.csv and answered_by.csv; `dobae score` reads the
    texts back as they were. submission.csv (ids and numbers for DACON) is left as it is."""
    from infer.submission import write_answered_by
    from qa.scoring import read_answers

    ids = ['=HYPERLINK("http://x.example","click")', "@SUM(1)", "TEST_002"]
    questions = ["+1 벽지가 들떠요", "-곰팡이", "결로"]
    answers = ["=1+1", "'=quoted", "초배를 다시 합니다."]
    write_submission(tmp_path, ids, questions, answers, _vecs())
    rows = list(csv.reader((tmp_path / "answers.csv").open(encoding="utf-8")))
    cells = [c for row in rows[1:] for c in row]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells), cells
    assert rows[1][0] == "'" + ids[0] and rows[2][2] == "''=quoted"
    got_ids, got_answers, _ = read_answers(tmp_path / "answers.csv")
    assert got_ids == ids and got_answers == answers

    write_answered_by(tmp_path, ids, ["=cmd|' /C calc'!A0", "retrieval", "llm"], ["@x", "-0.5", "ok"])
    rows = list(csv.reader((tmp_path / "answered_by.csv").open(encoding="utf-8")))
    assert not any(c.startswith(("=", "+", "-", "@")) for row in rows[1:] for c in row)
