"""`dobae status`: every stage summarised from the database as rich tables."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from sqlalchemy import func, select

from dobae.console import out


def _v(x: Any) -> str:
    return "-" if x is None else str(getattr(x, "value", x))


def _when(dt) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else "-"


def collect(url: str | None = None) -> dict[str, list[tuple]]:
    """The rows behind each table (plain tuples; tests and the report read them)."""
    from db.migrate import ensure_schema
    from db.models import (
        AugmentJob,
        CrawlRun,
        Evaluation,
        Export,
        InferenceRun,
        QAPair,
        Question,
        Review,
        Source,
        TrainingRun,
    )
    from db.review_queue import progress as review_progress
    from db.runs import run_state
    from db.session import session_scope
    from dobae.settings import get_settings

    url = url or get_settings().db_url
    ensure_schema(url)
    with session_scope(url) as s:
        data: dict[str, list[tuple]] = {}
        data["questions"] = [
            (src, _v(split) if split else "crawled", n, deleted or 0, incomplete or 0)
            for src, split, n, deleted, incomplete in s.execute(
                select(
                    Source.name,
                    Question.split,
                    func.count(),
                    func.sum(func.cast(Question.is_deleted, Integer_())),
                    # stored with fewer comments than their page stated (no comment JSON answered)
                    func.sum(func.cast(Question.comments_incomplete, Integer_())),
                )
                .join(Source, Source.id == Question.source_id)
                .group_by(Source.name, Question.split)
                .order_by(Source.name)
            )
        ]
        data["pairs"] = [
            (_v(o), _v(st), n)
            for o, st, n in s.execute(
                select(QAPair.origin, Review.status, func.count())
                .outerjoin(Review, Review.pair_id == QAPair.id)
                .group_by(QAPair.origin, Review.status)
                .order_by(QAPair.origin)
            )
        ]
        reasons: dict[tuple[str, str, str], int] = {}
        for origin, status, rs in s.execute(
            select(QAPair.origin, Review.status, Review.reasons).join(Review, Review.pair_id == QAPair.id)
        ):
            for r in rs or []:
                key = (_v(origin), _v(status), str(r))
                reasons[key] = reasons.get(key, 0) + 1
        data["review_reasons"] = [(*k, n) for k, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
        data["review_progress"] = progress_rows(review_progress(s))
        data["crawl_runs"] = [
            (r.id, r.spider, _v(run_state(r)), _when(r.started_at), _when(r.finished_at),
             (r.stats or {}).get("item_scraped_count", (r.stats or {}).get("items", "-")))
            for r in s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(5))
        ]  # fmt: skip
        jobs: dict[tuple[str, str], list[int]] = {}
        for job in s.scalars(select(AugmentJob).order_by(AugmentJob.operation, AugmentJob.id)):
            row = jobs.setdefault((job.operation, _v(run_state(job))), [0, 0, 0, 0])
            for i, n in enumerate((1, job.done or 0, job.total or 0, job.errors or 0)):
                row[i] += n
        data["augment_jobs"] = [
            (op, n, st, done, total, errors) for (op, st), (n, done, total, errors) in jobs.items()
        ]
        data["exports"] = [
            (e.id, e.path, e.format, e.rows, e.sha256[:12], _when(e.created_at))
            for e in s.scalars(select(Export).order_by(Export.id.desc()).limit(3))
        ]
        data["training_runs"] = [
            (r.id, r.name, _v(r.status), r.base_model, _fmt((r.metrics or {}).get("train_loss")),
             _fmt((r.metrics or {}).get("eval_loss")), _fmt((r.metrics or {}).get("metric")))
            for r in s.scalars(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(5))
        ]  # fmt: skip
        data["inference_runs"] = [
            (r.id, r.backend, _v(r.status), r.n_questions, r.out_path, _when(r.started_at))
            for r in s.scalars(select(InferenceRun).order_by(InferenceRun.id.desc()).limit(5))
        ]
        data["evaluations"] = [
            (e.id, e.answerer, e.embedder, e.folds, f"{e.mean:.4f}", f"{e.std:.4f}", _when(e.created_at))
            for e in s.scalars(select(Evaluation).order_by(Evaluation.id.desc()).limit(5))
        ]
    return data


def progress_rows(p) -> list[tuple]:
    """`db.review_queue.progress` as (what, reviewer, pairs) rows: the same numbers the review page
    (`dobae review serve`) and the report show."""
    rows = [
        (f"reviewed today ({p.day} UTC)", "all reviewers", p.reviewed_today),
        ("left in the queue", "needs_review + pending", f"{p.left} ({p.needs_review} + {p.pending})"),
    ]
    rows += [("reviewed by", name, f"{today} today, {total} in all") for name, today, total in p.per_reviewer]
    return rows


def Integer_():  # noqa: N802 - a type for the cast above
    from sqlalchemy import Integer

    return Integer


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, int | float) else "-"


TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "questions": (
        "Questions (crawled and DACON test)",
        ("source", "split", "count", "deleted", "comments incomplete"),
    ),
    "pairs": ("Q&A pairs by origin and review status", ("origin", "review status", "count")),
    "review_reasons": (
        "Review reasons (machine flags and reviewers)",
        ("origin", "review status", "reason", "pairs"),
    ),
    "review_progress": ("Review progress (people, not machine verdicts)", ("what", "who", "pairs")),
    "crawl_runs": ("Crawl runs (latest 5)", ("id", "spider", "status", "started", "finished", "items")),
    "augment_jobs": ("Augment jobs", ("operation", "jobs", "status", "done", "total", "errors")),
    "exports": ("Exports (latest 3)", ("id", "path", "format", "rows", "sha256", "at")),
    "training_runs": (
        "Training runs (latest 5)",
        ("id", "name", "status", "base model", "train loss", "eval loss", "metric"),
    ),  # fmt: skip
    "inference_runs": (
        "Inference runs (latest 5)",
        ("id", "backend", "status", "questions", "out", "started"),
    ),
    "evaluations": (
        "Scores (latest 5 evaluations)",
        ("id", "answerer", "embedder", "folds", "mean", "std", "at"),
    ),
}


def print_status(url: str | None = None) -> dict[str, list[tuple]]:
    data = collect(url)
    for key, (title, cols) in TABLES.items():
        t = Table(title=title, title_justify="left")
        for c in cols:
            t.add_column(c, overflow="fold")
        for row in data[key]:
            t.add_row(*(str(x) for x in row))
        if not data[key]:
            t.add_row(*(["(none yet)"] + [""] * (len(cols) - 1)))
        out.print(t)
    return data
