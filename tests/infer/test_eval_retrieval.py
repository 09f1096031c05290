"""The retrieval answerer on a tiny set of DACON-format rows (real mUSE v3 embeddings)."""

from __future__ import annotations

import pytest

from foundation.errors import ConfigError
from infer.answerer import make_answerer
from infer.evaluation.cv import train_pairs


@pytest.fixture
def fitted(items, embedder):
    def build(**options):
        r = make_answerer("retrieval", embedder=embedder, **options)
        r.fit(train_pairs(items))
        return r

    return build


@pytest.mark.parametrize("weight", [0.0, 0.5, 1.0])
def test_retrieve_finds_the_right_item_for_a_paraphrase(fitted, items, weight):
    r = fitted(weight=weight, k=3)
    hits = r.retrieve("실크 벽지를 쓰면 뭐가 좋은가요?", 3)
    assert len(hits) == 3
    assert [s for _, _, s in hits] == sorted((s for _, _, s in hits), reverse=True)
    question, answer, _ = hits[0]
    silk = next(it for it in items if it.id == "T002")
    assert question in silk.questions and answer in silk.answers


def test_answers_compound_questions_part_by_part(fitted, items):
    r = fitted(compose="top1")
    by_id = {it.id: it for it in items}
    [ans] = r.answer(["벽지에 곰팡이가 피는 원인이 뭔가요? 또한, 겨울철 도배할 때 조심할 점은요?"])
    mold, winter = by_id["T000"].answers, by_id["T004"].answers
    assert any(ans.startswith(a + " ") and ans[len(a) + 1 :] in winter for a in mold)


def test_centroid_answer_is_a_reference_of_the_top_items(fitted, items):
    r = fitted(compose="centroid", k=2)
    [ans] = r.answer(["석고보드 틈에 생긴 금은 어떻게 고치나요?"])
    assert ans in next(it for it in items if it.id == "T009").answers


def test_bad_options_are_config_errors(embedder):
    with pytest.raises(ConfigError, match="compose"):
        make_answerer("retrieval", embedder=embedder, compose="best")
    with pytest.raises(ConfigError, match="no option 'topk'"):
        make_answerer("retrieval", embedder=embedder, topk=3)
    with pytest.raises(ConfigError, match="unknown answerer"):
        make_answerer("nope")


def test_constant_answerer(items):
    c = make_answerer("constant", text="도배는 전문가에게 맡기세요.")
    c.fit(train_pairs(items))
    assert c.answer(["아무 질문", "다른 질문"]) == ["도배는 전문가에게 맡기세요."] * 2
    assert c.config() == {"text": "도배는 전문가에게 맡기세요."}
