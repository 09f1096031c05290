"""`dobae status`: every stage summarised from the database as rich tables.

The rows come from the one read model (`db.summary`), so a status word here means what it means in
`dobae review status`, `dobae crawl runs`, the report and the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from rich.table import Table

from foundation.console import out

if TYPE_CHECKING:
    from db.review_queue import ReviewProgress


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else "-"


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, int | float) else "-"


def collect(url: str | None = None):
    """The read model behind the tables (`db.summary.Summary`: named rows; tests and views read it)."""
    from db.summary import summarise
    from foundation.settings import get_settings

    return summarise(url or get_settings().db_url)


# title, columns, and how one row of the read model becomes the table's cells
TABLES: dict[str, tuple[str, tuple[str, ...], Callable[[Any], tuple]]] = {
    "questions": (
        "Questions (crawled and DACON test)",
        ("source", "split", "count", "deleted", "comments incomplete"),
        lambda r: (r.source, r.split, r.count, r.deleted, r.comments_incomplete),
    ),
    "pairs": (
        "Q&A pairs by origin and review status",
        ("origin", "review status", "count"),
        lambda r: (r.origin, r.status, r.count),
    ),
    "review_reasons": (
        "Review reasons (machine flags and reviewers)",
        ("origin", "review status", "reason", "pairs"),
        lambda r: (r.origin, r.status, r.reason, r.pairs),
    ),
    "review_progress": (
        "Review progress (people, not machine verdicts)",
        ("what", "who", "pairs"),
        lambda r: (r.what, r.who, r.pairs),  # rows made by progress_rows
    ),
    "crawl_runs": (
        "Crawl runs (latest 5)",
        ("id", "spider", "status", "started", "finished", "items"),
        lambda r: (
            r.id,
            r.spider,
            r.status,
            _when(r.started_at),
            _when(r.finished_at),
            r.stats.get("item_scraped_count", r.stats.get("items", "-")),
        ),
    ),  # fmt: skip
    "augment_jobs": (
        "Augment jobs",
        ("operation", "jobs", "status", "done", "total", "errors"),
        lambda r: (r.operation, r.jobs, r.status, r.done, r.total, r.errors),
    ),
    "exports": (
        "Exports (latest 3)",
        ("id", "path", "format", "rows", "sha256", "at"),
        lambda r: (r.id, r.path, r.format, r.rows, r.sha256[:12], _when(r.created_at)),
    ),
    "training_runs": (
        "Training runs (latest 5)",
        ("id", "name", "status", "base model", "train loss", "eval loss", "metric"),
        lambda r: (
            r.id,
            r.name,
            r.status,
            r.base_model,
            _fmt(r.metrics.get("train_loss")),
            _fmt(r.metrics.get("eval_loss")),
            _fmt(r.metrics.get("metric")),
        ),
    ),  # fmt: skip
    "inference_runs": (
        "Inference runs (latest 5)",
        ("id", "backend", "status", "questions", "out", "started"),
        lambda r: (r.id, r.backend, r.status, r.questions, r.out, _when(r.started_at)),
    ),
    "evaluations": (
        "Scores (latest 5 evaluations)",
        ("id", "answerer", "embedder", "folds", "mean", "std", "at"),
        lambda r: (
            r.id,
            r.answerer,
            r.embedder,
            r.folds,
            f"{r.mean:.4f}",
            f"{r.std:.4f}",
            _when(r.created_at),
        ),
    ),
}


class ProgressRow(NamedTuple):
    what: str
    who: str
    pairs: int | str


def progress_rows(p: ReviewProgress | None) -> list[ProgressRow]:
    """`db.review_queue.progress` as rows: the same numbers the review page (`dobae review serve`) and
    the report show."""
    if p is None:
        return []
    rows = [
        ProgressRow(f"reviewed today ({p.day} UTC)", "all reviewers", p.reviewed_today),
        ProgressRow(
            "left in the queue", "needs_review + pending", f"{p.left} ({p.needs_review} + {p.pending})"
        ),
    ]
    rows += [
        ProgressRow("reviewed by", r.reviewer, f"{r.today} today, {r.total} in all") for r in p.per_reviewer
    ]
    return rows


def print_status(url: str | None = None):
    data = collect(url)
    for key, (title, cols, cells) in TABLES.items():
        t = Table(title=title, title_justify="left")
        for c in cols:
            t.add_column(c, overflow="fold")
        rows = progress_rows(data.review_progress) if key == "review_progress" else getattr(data, key)
        for row in rows:
            t.add_row(*(str(x) for x in cells(row)))
        if not rows:
            t.add_row(*(["(none yet)"] + [""] * (len(cols) - 1)))
        out.print(t)
    return data
