"""The one filter framework (`augment/filters.py`): a gate or curation flag is one small class that
registers itself; the gates and the curation run on the same pipeline and the same helpers."""

from __future__ import annotations

import pytest

from augment.curation import CrawlPair, CurationContext, CurationFilter, CurationPipeline
from augment.filters import FilterPipeline
from augment.gates import Candidate, Gate, GateContext, GatePipeline
from db.models import ReviewStatus
from foundation.errors import ConfigError
from foundation.settings import CurationSettings, GateSettings


@pytest.fixture
def registered():
    """Names the test defines, taken out of the registries afterwards."""
    names: list[tuple[type, str]] = []
    yield names
    for family, name in names:
        family.registry.pop(name, None)


def test_a_gate_defined_in_a_test_joins_the_pipeline(registered):
    class MentionsPrice(Gate):
        name = "mentions_price"

        def check(self, c, ctx):
            return (False, "mentions_price") if "원" in c.answer else True

    registered.append((Gate, "mentions_price"))
    ctx = GateContext(GateSettings(reject=["mentions_price"]))
    pipeline = GatePipeline(ctx, ["too_short", "mentions_price"])
    verdict = pipeline.judge(
        Candidate("도배 비용은 얼마인가요?", "평당 2만 원 정도입니다.", "g1", fields=("question",))
    )
    assert verdict.status == ReviewStatus.rejected and verdict.reasons == ["mentions_price"]
    ok = pipeline.judge(
        Candidate("도배는 언제 하나요?", "이사 전에 하는 것이 좋습니다.", "g2", fields=("question",))
    )
    assert ok.status == ReviewStatus.approved and ok.reasons == []
    assert pipeline.counts == {"mentions_price": 1, "approved": 1}


def test_a_text_gate_is_skipped_when_nothing_parsed(registered):
    class AlwaysFlags(Gate):
        name = "always_flags"

        def check(self, c, ctx):
            return False  # the gate's name is the reason

    registered.append((Gate, "always_flags"))
    pipeline = GatePipeline(GateContext(GateSettings()), ["parse_error", "always_flags"])
    assert pipeline.judge(Candidate("질문인가요?", "답입니다.", "g")).reasons == ["always_flags"]
    unparsed = Candidate("", "", "g", parse_error="no JSON")
    assert pipeline.judge(unparsed).reasons == ["parse_error"]


def test_a_curation_flag_defined_in_a_test_joins_the_pipeline(registered):
    class MentionsBrand(CurationFilter):
        name = "mentions_brand"

        def check(self, p, ctx):
            return (False, "mentions_brand") if "LX" in p.answer else True

    registered.append((CurationFilter, "mentions_brand"))
    pipeline = CurationPipeline(CurationContext(CurationSettings()), ["mentions_brand"])
    status, reasons = pipeline.judge(
        CrawlPair(1, "어떤 벽지가 좋나요?", "LX 실크벽지가 무난합니다.", adopted=True)
    )
    assert status == ReviewStatus.needs_review and reasons == ["mentions_brand", "+adopted"]
    assert pipeline.counts == {"mentions_brand": 1}


def test_gates_and_curation_share_one_pipeline_and_name_unknown_members():
    assert issubclass(GatePipeline, FilterPipeline) and issubclass(CurationPipeline, FilterPipeline)
    assert "refusal" in Gate.registry and "self_answer" in CurationFilter.registry
    assert not set(Gate.registry) & {"self_answer", "contact_details"}  # two families, two registries
    with pytest.raises(
        ConfigError, match=r"unknown gate\(s\) spelling in augment.gates.order; known: parse_error"
    ):
        GatePipeline(GateContext(GateSettings()), ["spelling"])
    with pytest.raises(ConfigError, match=r"unknown filter\(s\) spelling in augment.curation.order"):
        CurationPipeline(CurationContext(CurationSettings()), ["spelling"])


def test_curation_near_duplicates_use_the_gates_lsh_index():
    from augment.dedup import NearDuplicateIndex

    ctx = CurationContext(CurationSettings())
    assert isinstance(ctx.near, NearDuplicateIndex)
    answer = "실크벽지가 들뜬 것은 초배와 정배 사이에 풀이 충분히 먹지 않아서입니다. 주사기로 풀을 넣으세요."
    ctx.add_answers([(7, answer)])
    pipeline = CurationPipeline(ctx, ["near_duplicate"])
    assert pipeline.judge(CrawlPair(7, "들뜸?", answer))[1] == []  # its own copy is not a duplicate
    assert pipeline.judge(CrawlPair(8, "들뜸?", answer + " ")) == (
        ReviewStatus.needs_review,
        ["near_duplicate"],
    )


def test_one_sentence_splitter_one_bigrams_one_compound_splitter():
    from augment import curation, dedup, gates
    from augment.operations import grounded as operations
    from dobae.report import count_sentences
    from infer import postprocess
    from qa import sentences, splitting

    text = "벽지가 들떴어요. 왜 그런가요?\n풀이 부족합니다"
    assert sentences.split_at_marks(text) == ["벽지가 들떴어요.", "왜 그런가요?", "풀이 부족합니다"]
    assert gates.sentences(text) == sentences.split_at_marks(text)
    assert count_sentences(text) == 3
    assert postprocess.sentences("첫 문장입니다. 둘째 문장？ 셋") == ["첫 문장입니다.", "둘째 문장？", "셋"]
    assert curation.split_at_marks is sentences.split_at_marks
    # one `bigrams` (one-character text: its own gram), used by the gates and seeded retrieval
    assert gates.bigrams is dedup.bigrams and operations.bigrams is dedup.bigrams
    assert dedup.bigrams("벽") == {"벽"} and dedup.bigrams("벽지!") == {"벽지"} and dedup.bigrams("") == set()
    # the leakage gate indexes the parts of a compound test question as `split_question` splits it
    ctx = GateContext(GateSettings())
    ctx.add_test_questions(["도배지가 들뜨는 원인은 무엇인가요? 또한 석고보드 균열은 왜 생기나요?"])
    assert set(ctx.test.texts) == {
        "도배지가 들뜨는 원인은 무엇인가요? 또한 석고보드 균열은 왜 생기나요?",
        *splitting.split_question("도배지가 들뜨는 원인은 무엇인가요? 또한 석고보드 균열은 왜 생기나요?"),
    }
    assert len(ctx.test.texts) == 3


def test_one_key_value_parser():
    from foundation.errors import InputError
    from foundation.keyvalue import parse_key_values

    assert parse_key_values(["a=1", " b =x=y"], "-s", "A=1") == {"a": "1", "b": "x=y"}
    typed = parse_key_values(["k=5", "w=0.5", "on=True", "xs=[1, 2]", "name=top1"], "-o", "k=5", typed=True)
    assert typed == {"k": 5, "w": 0.5, "on": True, "xs": [1, 2], "name": "top1"}
    with pytest.raises(InputError, match=r"-o 'k5': use key=value \(KEY=VALUE\), e.g. -o k=5"):
        parse_key_values(["k5"], "-o", "k=5")
    with pytest.raises(ConfigError, match="--set '=1'"):
        parse_key_values(["=1"], "--set", "a=1", error=ConfigError)
