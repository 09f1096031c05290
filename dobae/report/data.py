"""The report's data, read from the one read model (`db.summary`): a SIGKILLed crawl reads
`interrupted`, a pair without a review `pending`, as in every other view."""

from __future__ import annotations

from typing import Any


def load(url: str) -> dict[str, Any]:
    """The pairs with their texts and reviews, the crawl runs and the crawled questions' posting
    dates, the training runs, the evaluations and the review progress."""
    from db import summary
    from db.session import session_scope

    with session_scope(url) as s:
        pairs = [
            {"id": p.id, "q": p.question, "a": p.answer, "category": p.category or "(none)",
             "origin": p.origin, "group": p.group_id, "status": p.status, "reasons": p.reasons}
            for p in summary.pair_texts(s)
        ]  # fmt: skip
        crawls = [
            {"id": r.id, "spider": r.spider, "status": r.status, "started": r.started_at,
             "finished": r.finished_at, "stats": r.stats}
            for r in summary.crawl_runs(s, oldest_first=True)
        ]  # fmt: skip
        posted = summary.crawled_posted_dates(s)
        runs = [
            {"id": r.id, "name": r.name, "status": r.status, "dir": r.output_dir, "metrics": r.metrics}
            for r in summary.training_runs(s, oldest_first=True)
        ]
        evals = [
            {"id": e.id, "answerer": e.answerer, "embedder": e.embedder, "mean": e.mean, "std": e.std,
             "folds": e.folds, "breakdown": e.breakdown, "at": e.created_at, "data": e.data_sha256}
            for e in summary.evaluations(s, oldest_first=True)
        ]  # fmt: skip
        review_progress = summary.review_progress(s)
    return {"pairs": pairs, "crawls": crawls, "posted": posted, "runs": runs, "evals": evals,
            "progress": review_progress}  # fmt: skip
