"""The one read model: what state the project is in.

Every view of the project's state reads it here — `dobae status`, `dobae review status`,
`dobae crawl runs`, `dobae report` and the demo's "is this step done" checks — so a status word
means the same in every view:

- a run (crawl, augmentation job, training run; inference runs are recorded when they finish) is
  shown with `db.runs.run_state`: a `running` run whose process is gone (SIGKILL) or whose crawl
  heartbeat stopped reads `interrupted`;
- a pair without a review row is `pending` (`NOT_REVIEWED`), like a pair whose review is pending:
  neither was reviewed, and the approved export leaves both out.

Rows are dataclasses with named fields; the views format them. Reading never writes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from db.models import (
    AugmentJob,
    CrawlRun,
    Evaluation,
    Export,
    Generation,
    InferenceRun,
    QAPair,
    Question,
    Review,
    ReviewStatus,
    Source,
    TrainingRun,
)
from db.runs import gone_reason, run_state

if TYPE_CHECKING:
    from db.review_queue import ReviewProgress

NOT_REVIEWED = ReviewStatus.pending  # the one word for "no verdict yet", with or without a review row


def review_word(status: ReviewStatus | str | None) -> str:
    """A pair's review status as every view shows it (no review row: `pending`)."""
    return ReviewStatus(status or NOT_REVIEWED).value


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class QuestionCount:
    source: str
    split: str  # train | valid | test, or `crawled` for crawled questions
    count: int
    deleted: int
    comments_incomplete: int  # stored with fewer comments than their page stated


@dataclass(frozen=True)
class PairCount:
    origin: str
    status: str  # review_word
    count: int


@dataclass(frozen=True)
class ReasonCount:
    origin: str
    status: str
    reason: str
    pairs: int


@dataclass(frozen=True)
class CrawlRunRow:
    id: int
    spider: str
    status: str  # run_state: `interrupted` when its process is gone
    started_at: datetime | None
    finished_at: datetime | None
    stats: dict[str, Any]
    note: str  # why it is over although stored `running`, else its stored error
    job_dir: str | None

    @property
    def items(self) -> int:
        return int(self.stats.get("item_scraped_count", self.stats.get("items", 0)) or 0)

    def stat(self, key: str) -> int:
        return int(self.stats.get(key, 0) or 0)


@dataclass(frozen=True)
class AugmentJobCount:
    operation: str
    status: str  # run_state
    jobs: int
    done: int
    total: int
    errors: int


@dataclass(frozen=True)
class TrainingRunRow:
    id: int
    name: str
    status: str  # run_state
    base_model: str
    output_dir: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class InferenceRunRow:
    id: int
    backend: str
    status: str
    questions: int
    out: str
    started_at: datetime | None


@dataclass(frozen=True)
class ExportRow:
    id: int
    path: str
    format: str
    rows: int
    sha256: str
    created_at: datetime | None


class GroundedReview(NamedTuple):
    status: str  # review_word
    reasons: list[str]


@dataclass(frozen=True)
class EvaluationRow:
    id: int
    answerer: str
    embedder: str
    folds: int
    mean: float
    std: float
    created_at: datetime | None
    breakdown: dict[str, Any]
    data_sha256: str | None


# --------------------------------------------------------------------------- queries


def question_counts(s: Session) -> list[QuestionCount]:
    rows = s.execute(
        select(
            Source.name,
            Question.split,
            func.count(),
            func.sum(cast(Question.is_deleted, Integer)),
            func.sum(cast(Question.comments_incomplete, Integer)),
        )
        .join(Source, Source.id == Question.source_id)
        .group_by(Source.name, Question.split)
        .order_by(Source.name)
    )
    return [
        QuestionCount(src, split.value if split else "crawled", n, deleted or 0, incomplete or 0)
        for src, split, n, deleted, incomplete in rows
    ]


def pair_counts(s: Session, *where: Any) -> list[PairCount]:
    """Pairs by origin and review status (no review row counts as `pending`), origin order."""
    counts: Counter[tuple[str, str]] = Counter()
    q = (
        select(QAPair.origin, Review.status, func.count())
        .outerjoin(Review, Review.pair_id == QAPair.id)
        .group_by(QAPair.origin, Review.status)
    )
    for origin, status, n in s.execute(q.where(*where) if where else q):
        counts[origin.value, review_word(status)] += n
    order = {st.value: i for i, st in enumerate(ReviewStatus)}
    return [
        PairCount(o, st, n)
        for (o, st), n in sorted(counts.items(), key=lambda kv: (kv[0][0], order[kv[0][1]]))
    ]


def review_reasons(s: Session) -> list[ReasonCount]:
    """How often each reason was given, by origin and review status (most frequent first)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for origin, status, rs in s.execute(
        select(QAPair.origin, Review.status, Review.reasons).join(Review, Review.pair_id == QAPair.id)
    ):
        for r in rs or []:
            counts[origin.value, review_word(status), str(r)] += 1
    return [ReasonCount(*k, n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def crawl_row(run: CrawlRun, now: datetime | None = None) -> CrawlRunRow:
    gone = gone_reason(run, now)
    return CrawlRunRow(
        id=run.id,
        spider=run.spider,
        status=run_state(run, now).value,
        started_at=run.started_at,
        finished_at=run.finished_at,
        stats=dict(run.stats or {}),
        note=gone or run.error or "",
        job_dir=run.job_dir,
    )


def crawl_runs(
    s: Session, limit: int | None = None, *, spider: str | None = None, oldest_first: bool = False
) -> list[CrawlRunRow]:
    """The latest crawl runs (of `spider`; newest first, `oldest_first` for a timeline), liveness applied."""
    q = select(CrawlRun).order_by(CrawlRun.id if oldest_first else CrawlRun.id.desc())
    if spider:
        q = q.where(CrawlRun.spider == spider)
    return [crawl_row(r) for r in s.scalars(q.limit(limit) if limit else q)]


def augment_jobs(s: Session) -> list[AugmentJobCount]:
    """Augmentation jobs by operation and (live) status, with their summed progress."""
    jobs: dict[tuple[str, str], list[int]] = {}
    for job in s.scalars(select(AugmentJob).order_by(AugmentJob.operation, AugmentJob.id)):
        row = jobs.setdefault((job.operation, run_state(job).value), [0, 0, 0, 0])
        for i, n in enumerate((1, job.done or 0, job.total or 0, job.errors or 0)):
            row[i] += n
    return [AugmentJobCount(op, st, *counts) for (op, st), counts in jobs.items()]


def training_runs(
    s: Session, limit: int | None = None, *, oldest_first: bool = False
) -> list[TrainingRunRow]:
    q = select(TrainingRun).order_by(TrainingRun.id if oldest_first else TrainingRun.id.desc())
    return [
        TrainingRunRow(r.id, r.name, run_state(r).value, r.base_model, r.output_dir, dict(r.metrics or {}))
        for r in s.scalars(q.limit(limit) if limit else q)
    ]


def inference_runs(s: Session, limit: int | None = None) -> list[InferenceRunRow]:
    q = select(InferenceRun).order_by(InferenceRun.id.desc())
    return [
        InferenceRunRow(r.id, r.backend, r.status.value, r.n_questions, r.out_path, r.started_at)
        for r in s.scalars(q.limit(limit) if limit else q)
    ]


def _export_row(e: Export) -> ExportRow:
    return ExportRow(e.id, e.path, e.format, e.rows, e.sha256, e.created_at)


def exports(s: Session, limit: int | None = None) -> list[ExportRow]:
    q = select(Export).order_by(Export.id.desc())
    return [_export_row(e) for e in s.scalars(q.limit(limit) if limit else q)]


def evaluations(s: Session, limit: int | None = None, *, oldest_first: bool = False) -> list[EvaluationRow]:
    q = select(Evaluation).order_by(Evaluation.id if oldest_first else Evaluation.id.desc())
    return [
        EvaluationRow(e.id, e.answerer, e.embedder, e.folds, e.mean, e.std, e.created_at,
                      dict(e.breakdown or {}), e.data_sha256)
        for e in s.scalars(q.limit(limit) if limit else q)
    ]  # fmt: skip


# --------------------------------------------------------------------------- "is this step done"


def finished_crawl(s: Session, spider: str) -> int | None:
    """The latest `finished` crawl run of `spider` (None: none finished)."""
    return s.scalar(
        select(CrawlRun.id)
        .where(CrawlRun.spider == spider, CrawlRun.status == "finished")
        .order_by(CrawlRun.id.desc())
        .limit(1)
    )


def finished_operations(s: Session, selection: dict[str, Any]) -> set[str]:
    """The augmentation operations finished on exactly this selection (`Selection.params()`)."""
    return {
        op
        for op, params in s.execute(
            select(AugmentJob.operation, AugmentJob.params).where(AugmentJob.status == "finished")
        )
        if (params or {}).get("selection") == selection
    }


def latest_export(s: Session, path: str) -> ExportRow | None:
    """The latest recorded export to `path` (absolute)."""
    e = s.scalars(select(Export).where(Export.path == path).order_by(Export.id.desc()).limit(1)).first()
    return _export_row(e) if e else None


def grounded_reviews(s: Session) -> list[GroundedReview]:
    """The review of every reviewed pair generated from a document chunk."""
    rows = s.execute(
        select(Review.status, Review.reasons)
        .join(QAPair, QAPair.id == Review.pair_id)
        .where(QAPair.chunk_id.is_not(None))
    )
    return [GroundedReview(review_word(st), list(reasons or [])) for st, reasons in rows]


def generations(s: Session, operation: str) -> int:
    """How many generations (LLM calls' results) `operation` stored."""
    return (
        s.scalar(select(func.count()).select_from(Generation).where(Generation.operation == operation)) or 0
    )


@dataclass(frozen=True)
class PairText:
    """A pair with its texts and its review (`dobae report`'s analysis and review sections)."""

    id: int
    question: str
    answer: str
    category: str | None
    origin: str
    group_id: str
    status: str  # review_word
    reasons: list[str]


def pair_texts(s: Session) -> list[PairText]:
    """Every pair with its texts, review status (review_word) and reasons, by id."""
    rows = s.execute(
        select(QAPair, Review.status, Review.reasons)
        .outerjoin(Review, Review.pair_id == QAPair.id)
        .order_by(QAPair.id)
    )
    return [
        PairText(p.id, p.question_text, p.answer_text, p.category, p.origin.value, p.group_id,
                 review_word(st), list(reasons or []))
        for p, st, reasons in rows
    ]  # fmt: skip


def crawled_posted_dates(s: Session) -> list[datetime | None]:
    """When each crawled question was posted, as its site says (None: no date on its page)."""
    return list(s.scalars(select(Question.posted_at).where(Question.split.is_(None))))


# --------------------------------------------------------------------------- `dobae status`


@dataclass
class Summary:
    """Every table of `dobae status` (the latest `limit` runs, exports and scores)."""

    questions: list[QuestionCount] = field(default_factory=list)
    pairs: list[PairCount] = field(default_factory=list)
    review_reasons: list[ReasonCount] = field(default_factory=list)
    crawl_runs: list[CrawlRunRow] = field(default_factory=list)
    augment_jobs: list[AugmentJobCount] = field(default_factory=list)
    exports: list[ExportRow] = field(default_factory=list)
    training_runs: list[TrainingRunRow] = field(default_factory=list)
    inference_runs: list[InferenceRunRow] = field(default_factory=list)
    evaluations: list[EvaluationRow] = field(default_factory=list)
    review_progress: ReviewProgress | None = None  # what the review page and the report show


def review_progress(s: Session) -> ReviewProgress:
    """Reviewed today, left in the queue, per reviewer (`db.review_queue.progress`)."""
    from db.review_queue import progress

    return progress(s)


def summarise(url: str | None = None, limit: int = 5) -> Summary:
    from db.migrate import ensure_schema
    from db.session import session_scope

    ensure_schema(url)
    with session_scope(url) as s:
        return Summary(
            questions=question_counts(s),
            pairs=pair_counts(s),
            review_reasons=review_reasons(s),
            crawl_runs=crawl_runs(s, limit),
            augment_jobs=augment_jobs(s),
            exports=exports(s, 3),
            training_runs=training_runs(s, limit),
            inference_runs=inference_runs(s, limit),
            evaluations=evaluations(s, limit),
            review_progress=review_progress(s),
        )
