"""The full augment flow against real OpenAI-compatible servers: the fault server's scripted good
JSON (approved path) and `transformers serve` with a tiny random model (garbage → flagged)."""

from __future__ import annotations

from aug_helpers import PAIRS, insert_pairs, llm_env
from sqlalchemy import func, select

from augment.operations import Selection
from augment.runner import run_operation
from db.models import (
    AugmentJob,
    Generation,
    Keyword,
    LLMCache,
    Origin,
    PairKeyword,
    QAPair,
    Review,
    ReviewStatus,
)
from db.session import session_scope


def _derived(url):
    with session_scope(url) as s:
        return [
            (p, p.review, s.get(Generation, p.generation_id))
            for p in s.scalars(select(QAPair).where(QAPair.origin == Origin.augment).order_by(QAPair.id))
        ]


def test_question_paraphrases_are_gated_cached_and_traceable(db_url, fault_server, monkeypatch):
    ids = insert_pairs(db_url)
    llm_env(monkeypatch, fault_server.base_url)
    summary = run_operation("paraphrase-questions", Selection(limit=2))
    assert summary.errors == 0 and summary.calls == 2 and summary.processed == 2
    rows = _derived(db_url)
    assert len(rows) == 8  # 2 pairs × (2 formal + 2 colloquial)
    for pair, review, gen in rows:
        parent = next(i for i in ids if i == pair.parent_id)
        assert pair.group_id == {ids[0]: "g1", ids[1]: "g2"}[parent]
        assert pair.answer_text == PAIRS[ids.index(parent)][3]
        assert gen.operation == "paraphrase-questions" and gen.template_name == "question_paraphrase"
        assert gen.template_version == "1" and gen.model == "fault-model" and gen.cache_key
        assert gen.tokens_in > 0 and gen.latency_ms > 0 and gen.raw_output.startswith("{")
        assert review.reviewer == "machine:augment"
    statuses = {r.status for _, r, _ in rows}
    assert ReviewStatus.approved in statuses, [(p.question_text, r.reasons) for p, r, _ in rows]
    # the request asked for the schema and carried the untrusted text inside <자료>
    users = sorted(b["messages"][1]["content"] for b in fault_server.requests)
    assert all(
        b["response_format"]["json_schema"]["name"] == "QuestionParaphrases" for b in fault_server.requests
    )
    assert any(f"<자료>\n질문: {PAIRS[0][2]}\n</자료>" in u for u in users)

    # a re-run makes zero calls and adds nothing
    before = len(fault_server.requests)
    again = run_operation("paraphrase-questions", Selection(limit=2))
    assert len(fault_server.requests) == before and again.calls == 0 and again.already_done == 2
    assert len(_derived(db_url)) == 8
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(LLMCache)) == 2
        assert [j.status.value for j in s.scalars(select(AugmentJob))] == ["finished"]


def test_answer_paraphrases_flag_trivial_rewrites(db_url, fault_server, monkeypatch):
    insert_pairs(db_url)
    llm_env(monkeypatch, fault_server.base_url)
    run_operation("paraphrase-answers", Selection(category="마감재"))
    rows = _derived(db_url)
    assert len(rows) == 3 and all(p.question_text == PAIRS[2][2] for p, _, _ in rows)
    by_text = {p.answer_text: r for p, r, _ in rows}
    # "정리하면, <answer>" keeps nearly every character 5-gram of the source: near duplicate
    assert "near_duplicate" in by_text["정리하면, " + PAIRS[2][3]].reasons
    assert all(r.status != ReviewStatus.approved or not r.reasons for r in by_text.values())


def test_keywords_go_to_the_keyword_tables(db_url, fault_server, monkeypatch):
    ids = insert_pairs(db_url)
    llm_env(monkeypatch, fault_server.base_url)
    summary = run_operation("keywords", Selection())
    assert summary.processed == 4
    with session_scope(db_url) as s:
        kws = {(pk.pair_id, s.get(Keyword, pk.keyword_id).keyword) for pk in s.scalars(select(PairKeyword))}
        gen = s.scalars(select(Generation).where(Generation.operation == "keywords")).first()
        assert "방화문" in gen.params["dropped_not_in_text"]  # named by the model, absent from the text
    assert (ids[0], "곰팡이") in kws and (ids[1], "들뜸") in kws and (ids[3], "걸레받이") in kws
    assert not any(k == "방화문" for _, k in kws)


def test_seeded_pairs_are_grounded_and_keep_a_group(db_url, fault_server, monkeypatch):
    ids = insert_pairs(db_url)
    llm_env(monkeypatch, fault_server.base_url)
    summary = run_operation("seeded", Selection(keywords=["곰팡이", "걸레받이"]))
    assert summary.processed == 2
    rows = _derived(db_url)
    assert len(rows) == 2
    user = fault_server.requests[0]["messages"][1]["content"]
    assert PAIRS[0][2] in user  # the 곰팡이 pair was retrieved as grounding
    mold, _, gen = next(r for r in rows if "곰팡이" in r[0].question_text)
    assert mold.group_id == "g1" and mold.parent_id is not None
    # grounded on several pairs: every one of their groups is a source group (own group first)
    groups = {pid: g for pid, (g, *_) in zip(ids, PAIRS, strict=True)}
    context = gen.params["source_pair_ids"]
    assert len(context) > 1 and mold.source_groups == list(dict.fromkeys(groups[i] for i in context))


def test_garbage_from_a_real_tiny_model_is_flagged_not_dropped(db_url, tiny_server, monkeypatch):
    insert_pairs(db_url)
    llm_env(
        monkeypatch,
        tiny_server.base_url,
        tiny_server.model,
        DOBAE_LLM__MAX_TOKENS="24",
        DOBAE_LLM__MODE="chat",
    )
    summary = run_operation("paraphrase-questions", Selection(limit=2))
    assert summary.calls == 2 and summary.errors == 0
    rows = _derived(db_url)
    assert rows, "unparseable output must still reach the review queue"
    for _pair, review, gen in rows:
        assert review.status == ReviewStatus.rejected
        assert "parse_error" in review.reasons
        assert gen.status == "parse_error" and gen.model == tiny_server.model and gen.tokens_out > 0
    again = run_operation("paraphrase-questions", Selection(limit=2))
    assert again.calls == 0
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Review)) == len(rows)


def test_a_question_shared_by_several_pairs_is_paraphrased_once(db_url, fault_server, monkeypatch):
    q = "실크벽지와 합지벽지의 차이는 무엇인가요?"
    answers = [
        "실크벽지는 PVC 코팅이 되어 있어 물걸레 청소가 되고, 합지벽지는 종이라 저렴하지만 오염에 약합니다.",
        "합지벽지는 종이 재질이라 값이 싸고 통기성이 좋으며, 실크벽지는 코팅층 덕분에 내구성이 좋습니다.",
    ]
    insert_pairs(db_url, rows=[("d1", "마감재", q, a) for a in answers])
    llm_env(monkeypatch, fault_server.base_url)
    summary = run_operation("paraphrase-questions", Selection())
    assert summary.total == 1 and summary.calls == 1
    summary = run_operation("paraphrase-answers", Selection())
    assert summary.total == 2 and summary.calls == 2


def test_a_generated_answer_too_long_for_a_pair_is_named_and_not_stored(
    db_url, fault_server, monkeypatch, tmp_path, cli
):
    """Issue 21 item 8: a 140,000-character generated answer was stored, exported, and then
    `dobae review import` refused the whole file (cell limit 131,072). It is not stored now (the
    generation names why), and the export of everything imports back unchanged in every format."""
    import json

    from aug_fault_server import Fault

    from db.tabular import MAX_CELL_CHARS

    insert_pairs(db_url)
    llm_env(monkeypatch, fault_server.base_url)
    huge = "벽지" * 70_000  # 140,000 characters
    fault_server.script(
        Fault(content=json.dumps({"answers": [huge, "초배를 다시 하면 됩니다."]}, ensure_ascii=False))
    )
    summary = run_operation("paraphrase-answers", Selection(category="마감재"))
    assert summary.failures["too_long_to_store"] == 1
    rows = _derived(db_url)
    assert [p.answer_text for p, _, _ in rows] == ["초배를 다시 하면 됩니다."]
    gen = rows[0][2]
    assert gen.status == "too_long_to_store" and "140,000 characters" in gen.error
    with session_scope(db_url) as s:
        longest = s.scalar(select(func.max(func.length(QAPair.answer_text))))
    assert longest <= MAX_CELL_CHARS
    from augment.jobs import status_report

    [report] = status_report()  # what `dobae augment status` shows in its errors column
    assert report.failures == {"too_long_to_store": 1}

    for fmt in ("jsonl", "csv", "parquet"):
        path = tmp_path / f"all.{fmt}"
        assert cli("export", "--status", "all", "--out", str(path))[0] == 0
        code, _, err = cli("review", "import", str(path), "--reviewer", "kim")
        assert code == 0 and "changed 0" in err, err
