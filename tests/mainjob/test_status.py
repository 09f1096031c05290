"""`dobae status` on a filled database: every stage's table with the rows that were put in."""

from __future__ import annotations


def test_status_collects_each_stage(filled_db):
    from db.summary import ReasonCount
    from dobae.status import collect

    data = collect(filled_db)
    pairs = {(r.origin, r.status): r.count for r in data.pairs}
    assert pairs[("dacon", "approved")] == 30  # 3 rows × 2 questions × 5 answers
    assert pairs[("augment", "rejected")] == 1
    assert [(q.source, q.split, q.count) for q in data.questions] == [
        ("dacon", "test", 2),
        ("ohouse", "crawled", 1),
    ]
    assert data.review_reasons == [ReasonCount("augment", "rejected", "refusal", 1)]
    [crawl] = data.crawl_runs
    assert (crawl.spider, crawl.status, crawl.items) == ("ohouse", "finished", 17)
    assert data.training_runs[0].name == "smoke-run" and data.training_runs[0].metrics["train_loss"] == 2.5
    assert data.evaluations[0].answerer == "retrieval" and data.evaluations[0].mean == 0.5731
    assert data.exports == [] and data.inference_runs == [] and data.augment_jobs == []


def test_status_command_prints_tables(filled_db, capsys):
    from dobae.cli import main

    main(["status"])
    text = capsys.readouterr().out
    for title in (
        "Questions",
        "Q&A pairs by origin",
        "Review reasons",
        "Crawl runs",
        "Augment jobs",
        "Exports",
        "Training runs",
        "Inference runs",
        "Scores",
    ):
        assert title in text
    assert "smoke-run" in text and "0.5731" in text and "(none yet)" in text


def test_grounded_reviews_are_named_rows(filled_db):
    """The demo's docs step reads each grounded pair's review by name (`.status`, `.reasons`)."""
    from db.models import DocChunk, Document, Origin, QAPair, Review, ReviewStatus
    from db.session import session_scope
    from db.summary import grounded_reviews

    with session_scope(filled_db) as s:
        doc = Document(sha256="0" * 64, source="guide.md", kind="markdown", text="벽지는 말린 뒤 붙입니다.")
        doc.chunks.append(DocChunk(seq=0, start_char=0, end_char=13, text="벽지는 말린 뒤 붙입니다."))
        s.add(doc)
        s.flush()
        for i, (status, reasons) in enumerate(
            [(ReviewStatus.rejected, ["ungrounded"]), (ReviewStatus.pending, None)]
        ):
            pair = QAPair(key=f"docs:test:{i}", question_text="벽지는 언제 붙이나요?", answer_text="말린 뒤 붙입니다.",
                          origin=Origin.augment, group_id=f"docs:{i}", chunk_id=doc.chunks[0].id)  # fmt: skip
            s.add(pair)
            s.flush()
            s.add(Review(pair_id=pair.id, status=status, reasons=reasons, reviewer="machine"))
    with session_scope(filled_db) as s:
        rows = sorted(grounded_reviews(s))
    assert [(r.status, r.reasons) for r in rows] == [("pending", []), ("rejected", ["ungrounded"])]
