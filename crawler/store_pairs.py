"""Crawled answers → question–answer pairs for review (part of the crawl's store, `store.py`).

Each live, non-empty answer by someone other than the asker becomes a ``qa_pairs`` row (origin
crawl) with a ``pending`` review. A pair whose text a crawl changed goes back to ``pending``
whatever its verdict was, with one ``review_events`` row by ``machine:crawl`` holding the old and
new texts. Everything runs inside the batch's transaction (`CrawlStore.write`).
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

log = logging.getLogger(__name__)


def write_pairs(
    s, insert, source: str, source_id: int, run_id: int | None, live: list[dict], qids: dict[str, int],
    now, stats,
) -> None:  # fmt: skip
    """Each live, non-empty answer by someone other than the asker becomes a pending qa_pair."""
    from db.export import too_long_to_export
    from db.models import Answer, Origin, QAPair, Review, ReviewStatus

    pt = QAPair.__table__
    aids = {}
    ext_ids = [a["external_id"] for it in live for a in it["answers"]]
    for chunk in range(0, len(ext_ids), 500):
        part = ext_ids[chunk : chunk + 500]
        aids.update(
            s.execute(
                select(Answer.external_id, Answer.id).where(
                    Answer.source_id == source_id, Answer.external_id.in_(part)
                )
            ).all()
        )
    rows = []
    for it in live:
        q = it["question"]
        question_text = q["title"] if not q["body"] else f"{q['title']}\n{q['body']}"
        for a in it["answers"]:
            if (
                a["is_deleted"]
                or not a["body"]
                or (a["author_pseudonym"] and a["author_pseudonym"] == q["author_pseudonym"])
            ):
                continue
            why = too_long_to_export(question_text) or too_long_to_export(a["body"])
            if why:  # kept in `answers`; a pair's export could not be imported back
                stats.inc_value("db/qa_pairs_too_long")
                log.warning("answer %s of question %s: %s: no pair", a["external_id"], q["external_id"], why)
                continue
            rows.append(
                {
                    "key": f"crawl:{source}:{a['external_id']}",
                    "question_text": question_text,
                    "answer_text": a["body"],
                    "category": q["category"],
                    "origin": Origin.crawl.value,
                    "group_id": f"crawl:{source}:q{q['external_id']}",
                    "question_id": qids[q["external_id"]],
                    "answer_id": aids.get(a["external_id"]),
                    "updated_at": now,
                }
            )
    if not rows:
        return
    rows.sort(key=lambda r: r["key"])
    before = stored_texts(s, [r["key"] for r in rows])
    stmt = insert(pt)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "question_text": stmt.excluded.question_text,
            "answer_text": stmt.excluded.answer_text,
            "category": stmt.excluded.category,
            "question_id": stmt.excluded.question_id,
            "answer_id": stmt.excluded.answer_id,
            "updated_at": stmt.excluded.updated_at,
            "version": pt.c.version + 1,
        },
        where=(pt.c.question_text != stmt.excluded.question_text)
        | (pt.c.answer_text != stmt.excluded.answer_text),
    )
    s.execute(stmt, rows)
    keys = [r["key"] for r in rows]
    pair_ids = []
    for chunk in range(0, len(keys), 500):
        pair_ids += s.scalars(select(pt.c.id).where(pt.c.key.in_(keys[chunk : chunk + 500]))).all()
    rt = Review.__table__
    rstmt = insert(rt).on_conflict_do_nothing(index_elements=["pair_id"])
    s.execute(
        rstmt,
        [{"pair_id": pid, "status": ReviewStatus.pending.value, "reasons": []} for pid in sorted(pair_ids)],
    )
    reopen_changed(s, run_id, rows, before, now, stats)
    stats.inc_value("db/qa_pairs_written", len(rows))


def stored_texts(s, keys: list[str]) -> dict[str, tuple]:
    """key → (pair id, question, answer, version, review status, reasons, note) of the stored
    pairs, locked (in key order, as the upsert after it would) until the batch commits."""
    from db.models import QAPair, Review

    out: dict[str, tuple] = {}
    for chunk in range(0, len(keys), 500):
        out.update(
            (row[0], row[1:])
            for row in s.execute(
                select(
                    QAPair.key,
                    QAPair.id,
                    QAPair.question_text,
                    QAPair.answer_text,
                    QAPair.version,
                    Review.status,
                    Review.reasons,
                    Review.note,
                )
                .outerjoin(Review, Review.pair_id == QAPair.id)
                .where(QAPair.key.in_(keys[chunk : chunk + 500]))
                .order_by(QAPair.key)
                # PostgreSQL: a concurrent crawl's change of these pairs commits first (and is seen)
                .with_for_update(of=QAPair)
            )
        )
    return out


def reopen_changed(s, run_id: int | None, rows: list[dict], before: dict[str, tuple], now, stats) -> None:
    """A pair whose text this crawl changed goes back to `pending`: no verdict (the machine's
    curation or a person's approval) covers the new text. Each is one `review_events` row by
    `machine:crawl` with the old and new texts."""
    from db.models import Review, ReviewEvent, ReviewStatus

    events = []
    for r in rows:  # sorted by key: one lock order for concurrent crawls (see CrawlStore._write_once)
        old = before.get(r["key"])
        if old is None:
            continue
        pid, question, answer, version, status, reasons, old_note = old
        changes: dict[str, list] = {}
        if question != r["question_text"]:
            changes["question_text"] = [question, r["question_text"]]
        if answer != r["answer_text"]:
            changes["answer_text"] = [answer, r["answer_text"]]
        if not changes:
            continue
        old_status = status.value if status is not None else None
        if old_status != ReviewStatus.pending.value:
            changes["status"] = [old_status, ReviewStatus.pending.value]
        if reasons:
            changes["reasons"] = [list(reasons), []]
        note = f"text changed by crawl run {run_id} (version {version} -> {version + 1}); judge it again"
        changes["note"] = [old_note, note]
        events.append(
            {
                "pair_id": pid,
                "from_status": old_status,
                "to_status": ReviewStatus.pending.value,
                "reasons": [],
                "actor": "machine:crawl",
                "changes": changes,
                "note": note,
                "at": now,
            }
        )
    for e in events:  # a note per pair (its version); few pairs change per batch
        s.execute(
            update(Review)
            .where(Review.pair_id == e["pair_id"])
            .values(
                status=ReviewStatus.pending,
                reasons=[],
                reviewer="machine:crawl",
                note=e["note"],
                text_sha256=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    if not events:
        return
    s.execute(ReviewEvent.__table__.insert(), events)
    stats.inc_value("db/qa_pairs_reopened", len(events))
