"""Completion mode (`llm.mode`): few-shot text prompts through `/v1/completions` for base models,
against a real `transformers serve` running a tiny model; `auto` resolved by name or one probe."""

from __future__ import annotations

from aug_helpers import insert_pairs, llm_env
from sqlalchemy import select

from augment.llm_mode import resolve_mode
from augment.llm_response import cut_at_stop
from augment.operations import Selection
from augment.runner import run_operation
from db.models import Generation, LLMCache, QAPair, Review, ReviewStatus
from db.review import add_initial_reviews
from db.session import session_scope
from foundation.settings import LLMSettings

# two approved items of one category, each with two phrasings (질문_1 / 질문_2), and a third to paraphrase
ROWS = [
    (
        "g1",
        "마감하자",
        "도배지에 곰팡이가 생기는 원인은 무엇인가요?",
        "결로와 환기 부족으로 습기가 차서 생깁니다.",
    ),
    (
        "g1",
        "마감하자",
        "벽지에 곰팡이가 자꾸 피는 이유가 뭐예요?",
        "결로와 환기 부족으로 습기가 차서 생깁니다.",
    ),
    (
        "g2",
        "마감하자",
        "벽지가 들뜨는 이유가 뭔가요?",
        "초배가 부실하거나 풀이 마르기 전에 습기를 먹으면 들뜹니다.",
    ),
    (
        "g2",
        "마감하자",
        "도배지가 왜 들뜨는 건가요?",
        "초배가 부실하거나 풀이 마르기 전에 습기를 먹으면 들뜹니다.",
    ),
    (
        "g3",
        "마감하자",
        "도배지 이음매가 벌어지면 어떻게 하나요?",
        "같은 색 보수제로 메우거나 좁게 덧방합니다.",
    ),
]


def test_resolve_mode_by_name_and_setting():
    assert resolve_mode(LLMSettings(mode="chat")) == "chat"
    assert resolve_mode(LLMSettings(mode="completion")) == "completion"
    for name in ("Qwen2.5-0.5B-Instruct", "/m/gemma-3-1b-it", "llama-chat-7b"):
        assert resolve_mode(LLMSettings(mode="auto", model=name)) == "chat"


def test_auto_probe_without_a_server_leaves_the_cause_to_the_requests(caplog):
    """No server: the probe says so and picks chat; the requests then fail named by their cause
    (connection_refused, …: tests/augment/test_aug_failures.py)."""
    mode = resolve_mode(
        LLMSettings(mode="auto", model="gemma-3-270m", base_url="http://127.0.0.1:9/v1", timeout_s=2)
    )
    assert mode == "chat"
    assert "cannot reach http://127.0.0.1:9/v1" in caplog.text


def test_cut_at_stop():
    assert cut_at_stop(" 벽지가 들떠요?\n원래 질문: x", ["\n"]) == " 벽지가 들떠요?"
    assert cut_at_stop("abc", []) == "abc" and cut_at_stop(None, ["\n"]) is None


def test_auto_mode_falls_back_to_chat_without_completions(fault_server, monkeypatch):
    """The fault server only has /v1/chat/completions: the probe's 404 means chat."""
    assert (
        resolve_mode(LLMSettings(mode="auto", model="base-model", base_url=fault_server.base_url)) == "chat"
    )


def test_completion_mode_against_a_real_server(db_url, tiny_server, monkeypatch):
    ids = insert_pairs(db_url, ROWS)
    with session_scope(db_url) as s:
        add_initial_reviews(s, ids[:4], ReviewStatus.approved, actor="test")
    llm_env(monkeypatch, tiny_server.base_url, tiny_server.model, DOBAE_LLM__MAX_TOKENS="24")
    summary = run_operation("paraphrase-questions", Selection(category="마감하자", status="pending"))
    assert summary.calls == 1 and summary.errors == 0 and summary.tokens_out > 0
    with session_scope(db_url) as s:
        gen = s.scalars(select(Generation).where(Generation.operation == "paraphrase-questions")).one()
        assert gen.params["llm"]["mode"] == "completion" and gen.params["llm"]["stop"] == ["\n"]
        req = s.get(LLMCache, gen.cache_key).request
        prompt = req["prompt"]
        # few-shot from the approved items of the same category, then the query the model continues
        assert (
            "원래 질문: 도배지에 곰팡이가 생기는 원인은 무엇인가요?\n바꿔 쓴 질문: 벽지에 곰팡이가" in prompt
        )
        assert "벽지가 들뜨는 이유가 뭔가요?" in prompt
        assert prompt.endswith("원래 질문: 도배지 이음매가 벌어지면 어떻게 하나요?\n바꿔 쓴 질문:")
        assert req["messages"] == []
        # the raw completion, cut at the stop sequence, became one gated pair (whatever its verdict)
        pairs = s.execute(
            select(QAPair, Review)
            .join(Review, Review.pair_id == QAPair.id)
            .where(QAPair.generation_id == gen.id)
        ).all()
        assert len(pairs) == 1 or gen.status == "parse_error"
        for pair, review in pairs:
            assert "\n" not in pair.question_text or review.status == ReviewStatus.rejected
            assert pair.group_id == "g3"
    again = run_operation("paraphrase-questions", Selection(category="마감하자", status="pending"))
    assert again.calls == 0  # cached and recorded: nothing is asked twice


def test_keywords_in_completion_mode(db_url, tiny_server, monkeypatch):
    insert_pairs(db_url, ROWS[:1])
    llm_env(monkeypatch, tiny_server.base_url, tiny_server.model, DOBAE_LLM__MAX_TOKENS="16")
    summary = run_operation("keywords", Selection(limit=1))
    assert summary.calls == 1 and summary.errors == 0
    with session_scope(db_url) as s:
        gen = s.scalars(select(Generation).where(Generation.operation == "keywords")).one()
        prompt = s.get(LLMCache, gen.cache_key).request["prompt"]
    assert prompt.count("핵심어:") == 4 and prompt.endswith("핵심어:")  # 3 written examples + the query
