"""The `compose` answerer and the Korean sentence splitter on tiny DACON-format rows (real mUSE v3
embeddings, real Kiwi splitter)."""

from __future__ import annotations

import re

import pytest

from foundation.errors import ConfigError
from infer.answerer import make_answerer
from infer.evaluation.cv import train_pairs
from qa.embedders import approx_wordpieces
from qa.sentences import clean_sentence, split_sentences


@pytest.fixture
def fitted(items, embedder):
    def build(**options):
        c = make_answerer("compose", embedder=embedder, **({"k": 4} | options))
        c.fit(train_pairs(items))
        return c

    return build


def sentences_of(items, ids=None):
    texts = [a for it in items if ids is None or it.id in ids for a in it.answers]
    return {s for sents in split_sentences(texts) for s in sents}


def test_split_sentences_splits_korean_and_cleans_spacing():
    [sents] = split_sentences(["벽지가 들뜨는 원인은 습기입니다 .  그러므로 환기를   해야 합니다"])
    assert sents == ("벽지가 들뜨는 원인은 습기입니다.", "그러므로 환기를 해야 합니다.")
    assert clean_sentence(" 도배 전 ,바탕면을 정리하세요 ") == "도배 전,바탕면을 정리하세요."


def test_answer_is_made_of_training_sentences_and_opens_with_the_nearest_item(fitted, items):
    c = fitted()
    [ans] = c.answer(["벽지에 곰팡이가 피는 이유가 무엇인가요?"])
    [[trace]] = c.trace
    assert trace.items[0][0] == "T000"
    assert trace.source_ranks[0] == 0
    assert ans.startswith(trace.sentences[0])
    assert trace.sentences[0] in sentences_of(items, {"T000"})
    assert set(trace.sentences) <= sentences_of(items)
    assert ans == " ".join(trace.sentences)


def test_answer_is_clean_without_near_duplicates(fitted, embedder):
    c = fitted(dup=0.8)
    for ans, [trace] in zip(
        c.answer(["실크벽지 장점이 뭐예요?", "새집증후군은 어떻게 줄이나요?"]), c.trace, strict=True
    ):
        assert "  " not in ans and not re.search(r"\s[.,!?]", ans) and ans.endswith(".")
        vecs = embedder.encode(trace.sentences)
        sims = vecs @ vecs.T
        assert all(sims[i, j] < 0.8 for i in range(len(vecs)) for j in range(i))


def test_max_sentences_and_budget_limit_the_answer(fitted):
    one = fitted(max_sentences=1)
    [ans] = one.answer(["겨울철 도배할 때 조심할 점은요?"])
    assert len(one.trace[0][0].sentences) == 1
    short = fitted(budget=60, overflow=False)
    [ans] = short.answer(["겨울철 도배할 때 조심할 점은요?"])
    sents = short.trace[0][0].sentences
    assert approx_wordpieces(ans) <= 60 or len(sents) == 1
    crossing = fitted(budget=60, overflow=True)
    [ans] = crossing.answer(["겨울철 도배할 때 조심할 점은요?"])
    sents = crossing.trace[0][0].sentences
    assert approx_wordpieces(" ".join(sents[:-1])) < 60  # only the last sentence may cross


def test_compound_questions_are_composed_part_by_part(fitted, items):
    c = fitted()
    [ans] = c.answer(["벽지에 곰팡이가 피는 원인이 뭔가요? 또한, 합지벽지의 단점은 무엇인가요?"])
    first, second = c.trace[0]
    assert first.items[0][0] == "T000" and second.items[0][0] == "T003"
    assert first.sentences[0] in sentences_of(items, {"T000"})
    assert second.sentences and set(second.sentences) <= sentences_of(items)
    assert ans == " ".join(first.sentences + second.sentences)


def test_composed_answer_scores_like_the_references(fitted, items, embedder):
    from qa.scoring import score_texts

    c = fitted()
    constant = make_answerer("constant")
    questions = ["벽지에 곰팡이가 피는 이유가 무엇인가요?", "타일 줄눈에 금이 가는 원인은요?"]
    refs = [next(it for it in items if it.id == rid).answers for rid in ("T000", "T008")]
    composed = score_texts(c.answer(questions), refs, embedder)
    generic = score_texts(constant.answer(questions), refs, embedder)
    assert composed.mean > 0.7 and composed.mean > generic.mean + 0.2


def test_whole_answers_compete_with_the_composed_one(fitted, items):
    c = fitted(whole=2)
    [ans] = c.answer(["실크벽지의 장점은 무엇인가요?"])
    [[trace]] = c.trace
    whole = {a for it in items if it.id in {g for g, _ in trace.items[:2]} for a in it.answers}
    composed = fitted(whole=0)
    composed.answer(["실크벽지의 장점은 무엇인가요?"])
    assert ans in whole or ans == composed.trace[0][0].answer


def test_near_keeps_sentences_from_items_close_to_the_question(fitted):
    c = fitted(near=1.0)
    c.answer(["도배지에 곰팡이가 생기는 원인은 무엇인가요?", "실크벽지 장점이 뭐예요?"])
    assert all(rank == 0 for traces in c.trace for t in traces for rank in t.source_ranks)


def test_config_and_bad_options(fitted, embedder):
    c = fitted(max_sentences=2)
    assert c.config()["max_sentences"] == 2 and c.config()["splitter"] == "kiwipiepy"
    with pytest.raises(ConfigError, match="near"):
        make_answerer("compose", embedder=embedder, near=2)
    with pytest.raises(ConfigError, match="dup"):
        make_answerer("compose", embedder=embedder, dup=1.5)
    with pytest.raises(ConfigError, match="no option 'topk'"):
        make_answerer("compose", embedder=embedder, topk=3)
    with pytest.raises(RuntimeError, match="fit"):
        make_answerer("compose", embedder=embedder).answer(["질문"])


def test_max_sentences_flag_of_dobae_evaluate(db_url, train_csv, capsys):
    from sqlalchemy import select

    from db.dacon import import_dacon
    from db.models import Evaluation
    from db.session import session_scope
    from dobae.cli import main

    import_dacon(train_csv, url=db_url)
    main(["evaluate", "--answerer", "compose", "--max-sentences", "1", "--folds", "2", "--embedder", "muse3"])
    assert "compose, 2-fold CV" in capsys.readouterr().out
    with session_scope(db_url) as s:
        [config] = s.scalars(select(Evaluation.config)).all()
    assert config["max_sentences"] == 1 and config["splitter"] == "kiwipiepy"
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--answerer", "retrieval", "--max-sentences", "1", "--embedder", "muse3"])
    assert exc.value.code == 1 and "--answerer compose" in capsys.readouterr().err
