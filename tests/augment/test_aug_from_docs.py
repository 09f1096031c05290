"""Grounded Q&A from document chunks: the groundedness gate on supported and unsupported answers,
chat mode against the fault server, completion mode against a real tiny model, links to chunks."""

from __future__ import annotations

import math

import pytest
from aug_helpers import llm_env
from sqlalchemy import select

from augment.documents import add_documents
from augment.gates import Candidate, GateContext, GatePipeline, groundedness
from augment.operations import Selection
from augment.runner import run_operation
from db.models import DocChunk, Generation, QAPair, Review, ReviewStatus
from db.session import session_scope
from foundation.settings import GateSettings

CHUNK = (
    "곰팡이의 가장 흔한 원인은 결로입니다. 단열이 부족한 벽은 겨울에 표면 온도가 이슬점 아래로 떨어지고, "
    "실내의 습기가 벽에 맺혀 물이 됩니다. 환기가 부족하면 이 습기가 빠지지 않아 곰팡이가 자랍니다."
)


@pytest.fixture(scope="module")
def ctx():
    return GateContext(GateSettings())


def _judge(ctx, answer):
    c = Candidate("곰팡이는 왜 생기나요?", answer, "doc:x:0", fields=("question", "answer"), context=CHUNK)
    return GatePipeline(ctx, ["ungrounded"]).judge(c)


def test_supported_answer_passes(ctx):
    answer = "곰팡이의 가장 흔한 원인은 결로입니다. 환기가 부족하면 습기가 빠지지 않아 곰팡이가 자랍니다."
    assert _judge(ctx, answer).reasons == []
    support = groundedness(answer, CHUNK, ctx)
    assert len(support) == 2 and all(s.lexical >= 0.5 and math.isnan(s.cosine) for s in support)


def test_an_unsupported_sentence_fails(ctx):
    answer = "곰팡이의 가장 흔한 원인은 결로입니다. 보수 비용은 평당 삼만 원이며 보증 기간은 십 년입니다."
    v = _judge(ctx, answer)
    assert v.reasons == ["ungrounded"] and v.status == ReviewStatus.rejected
    weak = groundedness(answer, CHUNK, ctx)[1]
    assert not weak.supported and weak.lexical < 0.5 and weak.cosine < 0.6


def test_repetition_and_copied_questions(ctx):
    loop = "풀칠 불량은 벽지가 부풀어 오르는 하자입니다. " * 3
    c = Candidate("풀칠 불량은 왜 생기나요?", loop, "doc:x:0", fields=("question", "answer"), context=CHUNK)
    assert "repetition" in GatePipeline(ctx, ["repetition"]).judge(c).reasons
    copied = Candidate(
        "단열이 부족한 벽은 겨울에 표면 온도가 이슬점 아래로 떨어지고",
        "단열이 부족하면 표면 온도가 이슬점 아래로 떨어집니다.",
        "doc:x:0",
        fields=("question", "answer"),
        context=CHUNK,
    )
    assert GatePipeline(ctx, ["not_a_question"]).judge(copied).reasons == ["not_a_question"]
    for q in ("곰팡이는 왜 생기나요?", "결로가 생기는 원인은 무엇인가요", "단열이 부족하면 어떻게 되죠?"):
        ok = Candidate(q, "결로 때문입니다.", "doc:x:0", fields=("question", "answer"), context=CHUNK)
        assert GatePipeline(ctx, ["not_a_question"]).judge(ok).reasons == [], q


def test_a_pair_without_a_chunk_is_not_judged(ctx):
    c = Candidate("질문입니다 무엇인가요?", "아무 근거 없는 답변입니다.", "g1", fields=("answer",))
    assert GatePipeline(ctx, ["ungrounded"]).judge(c).reasons == []


def _docs(tmp_path):
    md = tmp_path / "mold.md"
    md.write_text("# 곰팡이\n\n" + CHUNK, encoding="utf-8")
    return add_documents([md])


def test_from_docs_in_chat_mode_links_pairs_to_chunks(db_url, fault_server, monkeypatch, tmp_path):
    _docs(tmp_path)
    llm_env(monkeypatch, fault_server.base_url, "fault", DOBAE_LLM__MODE="chat")
    summary = run_operation("from-docs", Selection())
    assert summary.calls == 1 and summary.errors == 0
    with session_scope(db_url) as s:
        chunk = s.scalars(select(DocChunk)).one()
        rows = s.execute(
            select(QAPair, Review).join(Review, Review.pair_id == QAPair.id).order_by(QAPair.id)
        ).all()
        assert len(rows) == 2 and all(p.chunk_id == chunk.id for p, _ in rows)
        (good, gr), (bad, br) = rows
        assert good.answer_text.startswith("곰팡이") and "ungrounded" not in gr.reasons
        assert br.status == ReviewStatus.rejected and "ungrounded" in br.reasons
        assert good.group_id.startswith("doc:") and good.parent_id is None and good.origin.value == "augment"
    assert run_operation("from-docs", Selection()).calls == 0  # done items are skipped


def test_from_docs_in_completion_mode_against_a_real_server(db_url, tiny_server, monkeypatch, tmp_path):
    _docs(tmp_path)
    llm_env(monkeypatch, tiny_server.base_url, tiny_server.model, DOBAE_LLM__MAX_TOKENS="24")
    summary = run_operation("from-docs", Selection(limit=1))
    assert summary.calls == 1 and summary.errors == 0
    with session_scope(db_url) as s:
        gen = s.scalars(select(Generation).where(Generation.operation == "from-docs")).one()
        assert gen.params["llm"]["mode"] == "completion" and gen.params["chunk_id"]
        rows = s.execute(select(QAPair, Review).join(Review, Review.pair_id == QAPair.id)).all()
    # random weights write no "질문 … 답변: …": the output is kept, rejected, with its reason
    assert rows and all(r.status == ReviewStatus.rejected and r.reasons for _, r in rows)
    assert all(p.chunk_id == gen.params["chunk_id"] for p, _ in rows)


def test_an_unknown_document_id_is_named_with_the_valid_ones(
    db_url, fault_server, monkeypatch, tmp_path, cli
):
    """Issue 21 item 12: `--document 999` while documents exist said "add documents first"."""
    _docs(tmp_path)
    llm_env(monkeypatch, fault_server.base_url, "fault", DOBAE_LLM__MODE="chat")
    with session_scope(db_url) as s:
        [doc_id] = s.scalars(select(DocChunk.document_id).distinct()).all()
    code, out, err = cli("augment", "from-docs", "--document", "999")
    assert code == 1 and "Traceback" not in out + err
    assert "--document 999: no document with that id" in err and f"the documents are {doc_id}" in err
    assert "add documents first" not in err
    assert run_operation("from-docs", Selection(document=doc_id)).calls == 1
