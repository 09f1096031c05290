"""Candidate selection on constructed vectors, and answer post-processing (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from infer.postprocess import drop_repeats, drop_unfinished, fit_window, postprocess, strip_echo
from infer.select import parse_weights, select, selection_scores


def _e(i, dim=8):
    v = np.zeros(dim)
    v[i] = 1.0
    return v


def test_reference_term_picks_the_candidate_nearest_the_references_centroid():
    cands = np.array([_e(0), _e(1) + 0.2 * _e(2), _e(2) + _e(1)])
    refs = np.array([_e(1) + _e(2), _e(2)])  # centroid leans to e2 with some e1
    assert select(["a", "b", "c"], cands, parse_weights("reference"), references=refs) == 2
    # the first (greedy) candidate wins under `first`
    assert select(["a", "b", "c"], cands, parse_weights("first"), references=refs) == 0


def test_question_and_mbr_terms():
    q = _e(3)
    cands = np.array([_e(0), _e(3) + 0.1 * _e(0), _e(0) + 0.1 * _e(4)])
    assert select(["a", "b", "c"], cands, parse_weights("question"), question=q) == 1
    # MBR: candidates 0 and 2 agree with each other; 1 is the outlier
    assert select(["a", "b", "c"], cands, parse_weights("mbr")) in (0, 2)
    s = selection_scores(cands, {"mbr": 1.0})
    assert s[1] < min(s[0], s[2])


def test_weights_combine_and_empty_candidates_are_skipped():
    refs = np.array([_e(1)])
    cands = np.array([_e(1), _e(1) + 0.01 * _e(2), _e(2)])
    # the best by reference is the empty text: it is never chosen
    assert select(["", "b", "c"], cands, {"reference": 1.0}, references=refs) == 1
    s = selection_scores(cands, parse_weights("reference=1,mbr=0.5"), references=refs)
    want = cands / np.linalg.norm(cands, axis=1, keepdims=True) @ _e(1)
    sims = (cands / np.linalg.norm(cands, axis=1, keepdims=True)) @ (
        cands / np.linalg.norm(cands, axis=1, keepdims=True)
    ).T
    want = want + 0.5 * (sims.sum(1) - 1) / 2
    np.testing.assert_allclose(s, want)


@pytest.mark.parametrize("spec", ["bogus", "reference=x", "length=1"])
def test_bad_selection_specs(spec):
    with pytest.raises(ValueError, match="select"):
        parse_weights(spec)


def test_reference_term_without_references_is_an_error():
    with pytest.raises(ValueError, match="reference"):
        selection_scores(np.eye(2), {"reference": 1.0})


def test_strip_echo():
    q = "벽지가 들뜨는 원인은 무엇인가요?"
    assert strip_echo("답변: 습기 때문입니다.\n질문: 다른 질문인가요?\n답변: 네.", q) == "습기 때문입니다."
    assert strip_echo(f"{q} 습기와 풀칠 불량 때문입니다.", q) == "습기와 풀칠 불량 때문입니다."
    assert strip_echo("습기 때문입니다. 참고 자료:\n[1] 질문: …", q) == "습기 때문입니다."
    assert strip_echo("질문이 좋네요. 습기 때문입니다.", q) == "질문이 좋네요. 습기 때문입니다."


def test_drop_repeats_and_unfinished():
    text = "습기가 원인입니다. 환기를 하세요. 습기가 원인입니다! 환기를 하세요. 그리고 벽지를"
    assert drop_repeats(text) == "습기가 원인입니다. 환기를 하세요. 그리고 벽지를"
    assert drop_unfinished(drop_repeats(text)) == "습기가 원인입니다. 환기를 하세요."
    assert drop_unfinished("한 문장뿐이고 끝나지 않은") == "한 문장뿐이고 끝나지 않은"


def test_fit_window_keeps_whole_sentences_in_the_128_piece_window():
    from qa.embedders import approx_wordpieces

    first = "도배지 곰팡이는 결로와 환기 부족으로 생깁니다."  # about 20 pieces
    text = " ".join(
        [first] * 1 + [f"{i}번째 보충 설명으로 벽지 시공 전에 바탕면을 점검해야 합니다." for i in range(10)]
    )
    cut = fit_window(text)
    assert approx_wordpieces(cut) <= 126 < approx_wordpieces(text)
    assert cut.startswith(first) and cut.endswith("합니다.")
    assert fit_window(first) == first
    long_one = "가" * 300
    assert approx_wordpieces(fit_window(long_one)) <= 126


def test_postprocess_pipeline():
    q = "합지벽지의 단점은 무엇인가요?"
    raw = f"답변: {q} 습기에 약합니다. 습기에 약합니다. 수명이 짧습니다.\n질문: 또"
    assert postprocess(raw, q) == "습기에 약합니다. 수명이 짧습니다."
