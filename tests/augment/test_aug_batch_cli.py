"""Batch API files round trip (results in any order, an error line) through the same cache and
gates; compound questions; the CLI commands and their help."""

from __future__ import annotations

import json
import random

import pytest
from aug_fault_server import good_answer
from aug_helpers import PAIRS, insert_pairs, llm_env
from sqlalchemy import func, select

from augment.batch import read_batch, write_batch
from augment.operations import Selection, join_compound
from augment.runner import run_operation
from db.models import Generation, LLMCache, Origin, QAPair, ReviewStatus
from db.session import session_scope
from dobae.cli import main
from foundation.console import out
from foundation.errors import InputError


def _results(requests: list[dict]) -> list[dict]:
    """What the Batch API returns for `requests` (answers from the same responder as the fault server)."""
    out = []
    for i, line in enumerate(requests):
        content = good_answer(line["body"])
        body = {
            "id": f"c{i}",
            "object": "chat.completion",
            "model": line["body"]["model"],
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140},
        }
        out.append(
            {
                "id": f"batch_req_{i}",
                "custom_id": line["custom_id"],
                "response": {"status_code": 200, "request_id": f"r{i}", "body": body},
                "error": None,
            }
        )
    return out


def test_batch_write_then_read_runs_the_same_gates(db_url, tmp_path, monkeypatch):
    insert_pairs(db_url)
    llm_env(monkeypatch, "http://127.0.0.1:9/v1", "gpt-4o-mini")  # nothing listens: batch mode must not call
    path = tmp_path / "batch.jsonl"
    assert write_batch("paraphrase-questions", Selection(limit=3), path) == 3
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert {x["method"] for x in lines} == {"POST"} and {x["url"] for x in lines} == {"/v1/chat/completions"}
    assert all(x["body"]["model"] == "gpt-4o-mini" and x["body"]["messages"] for x in lines)
    assert (
        write_batch("paraphrase-questions", Selection(limit=3), tmp_path / "again.jsonl") == 3
    )  # not yet answered

    results = _results(lines)
    results[1] = {
        "id": "x",
        "custom_id": lines[1]["custom_id"],
        "response": None,
        "error": {"code": "server_error", "message": "boom"},
    }
    random.Random(0).shuffle(results)
    out = tmp_path / "out.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results), encoding="utf-8")
    res = read_batch(out)
    assert res.stored == 2 and res.failed == {"batch_server_error": 1} and not res.unknown
    job = res.jobs[0]
    assert job.calls == 0 and job.cache_hits == 2 and job.processed == 2 and job.failures["not_cached"] == 1
    with session_scope(db_url) as s:
        derived = list(s.scalars(select(QAPair).where(QAPair.origin == Origin.augment)))
        assert len(derived) == 8 and all(p.review is not None for p in derived)
        assert {s.get(Generation, p.generation_id).model for p in derived} == {"gpt-4o-mini"}
    # only the failed request is written again; reading the same results twice adds nothing
    assert write_batch("paraphrase-questions", Selection(limit=3), tmp_path / "retry.jsonl") == 1
    res2 = read_batch(out)
    assert res2.stored == 0 and res2.already == 2
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(QAPair).where(QAPair.origin == Origin.augment)) == 8
        assert s.scalar(select(func.count()).select_from(LLMCache)) == 3


def test_batch_read_names_the_bad_line(sqlite_url, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"custom_id": "a"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl line 2: not JSON"):
        read_batch(bad)
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('{"custom_id": "nope", "response": {"status_code": 200}}\n', encoding="utf-8")
    with pytest.raises(InputError, match="none of its custom_ids"):
        read_batch(unknown)


def test_compound_questions_join_two_groups_like_the_test_set(db_url):
    ids = insert_pairs(db_url)
    summary = run_operation("compound", Selection())
    assert summary.processed == 4 and summary.calls == 0
    with session_scope(db_url) as s:
        derived = list(s.scalars(select(QAPair).where(QAPair.origin == Origin.augment).order_by(QAPair.id)))
        assert len(derived) == 4
        for p in derived:
            gen = s.get(Generation, p.generation_id)
            partner = s.get(QAPair, gen.params["partner_id"])
            parent = s.get(QAPair, p.parent_id)
            assert partner.group_id != parent.group_id and p.group_id == parent.group_id
            assert p.question_text in (
                join_compound(parent.question_text, partner.question_text, j) for j in ("또한,", "그리고")
            )
            assert p.answer_text == f"{parent.answer_text} {partner.answer_text}"
            assert gen.model == "rule:compound" and gen.cache_key is None
            assert p.review.status in (ReviewStatus.approved, ReviewStatus.needs_review)
    assert ids[0] in {p.parent_id for p in derived}
    again = run_operation("compound", Selection())
    assert again.processed == 0 and again.already_done == 4


def test_join_compound():
    assert (
        join_compound("방청 페인트의 종류는?", "단점은 무엇인가요?", "또한,")
        == "방청 페인트의 종류는? 또한, 단점은 무엇인가요?"
    )
    assert (
        join_compound("벽지 들뜸 원인을 알려주세요", "보수 방법은?", "그리고")
        == "벽지 들뜸 원인을 알려주세요? 그리고 보수 방법은?"
    )


def test_cli_runs_an_operation_and_reports_status(db_url, fault_server, monkeypatch, capsys):
    insert_pairs(db_url)
    llm_env(monkeypatch, fault_server.base_url)
    main(["augment", "paraphrase-questions", "--category", "시공"])
    err = capsys.readouterr().err
    assert "1 processed now" in err and "LLM calls" in err
    main(["augment", "compound", "--limit", "1"])
    capsys.readouterr()
    monkeypatch.setattr(out, "width", 160)
    main(["augment", "status"])
    status = capsys.readouterr().out
    assert "paraphrase-questions" in status and "compound" in status and "1/1" in status


def test_cli_errors_are_one_line(db_url, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["augment", "compound", "--source", "nowhere"])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "--source 'nowhere'" in err and "\n" not in err


def test_pairs_fixture_is_korean():
    assert all("?" in q for _, _, q, _ in PAIRS)
