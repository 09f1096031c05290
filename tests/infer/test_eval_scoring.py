"""The DACON metric against hand-computed cosines."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from qa.scoring import clipped_cosines, metric, question_scores, score_texts


def test_single_reference_matches_hand_computation():
    # cos([3,4],[4,3]) = 24/25; cos([1,0],[1,1]) = 1/sqrt(2); cos([0,2],[0,-5]) = -1 -> 0
    answers = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])
    refs = [np.array([[4.0, 3.0]]), np.array([[1.0, 1.0]]), np.array([[0.0, -5.0]])]
    per_q = question_scores(answers, refs)
    assert per_q == pytest.approx([0.96, 1 / math.sqrt(2), 0.0], abs=1e-6)
    assert metric(answers, refs) == pytest.approx((0.96 + 1 / math.sqrt(2) + 0.0) / 3, abs=1e-6)


def test_negative_cosine_counts_as_zero_not_negative():
    a = np.array([[1.0, 0.2]])
    r = np.array([[-1.0, 0.1]])
    raw = float(a[0] @ r[0] / (np.linalg.norm(a) * np.linalg.norm(r)))
    assert raw < 0
    assert clipped_cosines(a, r)[0] == 0.0


def test_several_references_mean_of_clipped_cosines():
    # refs: same direction (1), orthogonal (0), opposite (-1 -> 0), 45 degrees (1/sqrt 2)
    a = np.array([[2.0, 0.0]])
    refs = [np.array([[5.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0]])]
    assert question_scores(a, refs)[0] == pytest.approx((1 + 0 + 0 + 1 / math.sqrt(2)) / 4, abs=1e-6)


def test_mismatched_shapes_are_errors():
    with pytest.raises(ValueError):
        question_scores(np.ones((2, 3)), [np.ones((1, 3))])
    with pytest.raises(ValueError):
        question_scores(np.ones((1, 3)), [np.zeros((0, 3))])


def test_score_texts_with_real_embedder(embedder):
    same = "도배지 곰팡이는 결로와 환기 부족으로 생깁니다."
    other = "철근콘크리트 구조는 내화성이 뛰어납니다."
    res = score_texts([same, same], [[same], [same, other]], embedder)
    v = embedder.encode([same, other])
    expected_second = (1.0 + max(0.0, float(v[0] @ v[1]))) / 2
    assert res.per_question == pytest.approx([1.0, expected_second], abs=1e-6)
    assert res.mean == pytest.approx((1.0 + expected_second) / 2, abs=1e-6)
    assert res.embedder == "muse3-w128"


def _write(path, header, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_dobae_score_cli_answers_and_submission(tmp_path, capsys, monkeypatch):
    from dobae.cli import main
    from foundation.settings import reset_settings
    from qa.embedders import Muse3Embedder

    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    a = "벽지 들뜸은 초배 불량 때문에 생깁니다."
    b = "실크벽지는 오염에 강합니다."
    refs = tmp_path / "refs.csv"
    _write(refs, ["id", "답변_1", "답변_2"], [["Q1", a, b], ["Q2", b, b]])
    answers = tmp_path / "answers.csv"
    _write(answers, ["id", "answer"], [["Q1", a], ["Q2", b]])
    main(["score", "--refs", str(refs), "--answers", str(answers), "--embedder", "muse3"])
    v = Muse3Embedder().encode([a, b])
    expected = ((1 + max(0.0, float(v[0] @ v[1]))) / 2 + 1.0) / 2
    printed = capsys.readouterr().out
    assert f"score {expected:.6f} over 2 questions" in printed

    # the same answers as a submission file (vectors), scaled: cosine is scale-invariant
    sub = tmp_path / "submission.csv"
    _write(sub, ["id", *[f"vec_{j}" for j in range(512)]], [["Q1", *(3 * v[0])], ["Q2", *(0.5 * v[1])]])
    main(["score", "--refs", str(refs), "--answers", str(sub), "--embedder", "muse3"])
    assert f"score {expected:.6f} over 2 questions" in capsys.readouterr().out
    reset_settings()


def test_dobae_score_unknown_id_is_one_line_error(tmp_path, capsys, monkeypatch):
    from dobae.cli import main
    from foundation.settings import reset_settings

    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    refs = tmp_path / "refs.csv"
    _write(refs, ["id", "answer"], [["Q1", "가"]])
    answers = tmp_path / "answers.csv"
    _write(answers, ["id", "answer"], [["Q9", "나"]])
    with pytest.raises(SystemExit) as exc:
        main(["score", "--refs", str(refs), "--answers", str(answers), "--embedder", "muse3"])
    assert exc.value.code == 1
    assert "Q9" in capsys.readouterr().err
    reset_settings()
