"""The whole pipeline's schema: crawl → curated pairs → generation provenance → review → exports → runs.

SQLAlchemy 2 typed ORM. Enumerations are stored as strings with CHECK constraints so the same
schema works on SQLite and PostgreSQL. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
    }


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        length=32,
    )


class Origin(enum.StrEnum):
    crawl = "crawl"
    dacon = "dacon"
    augment = "augment"
    manual = "manual"


class ReviewStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    needs_review = "needs_review"
    rejected = "rejected"


class Split(enum.StrEnum):
    train = "train"
    valid = "valid"
    test = "test"


class RunStatus(enum.StrEnum):
    running = "running"
    finished = "finished"
    failed = "failed"
    interrupted = "interrupted"


# --------------------------------------------------------------------------- crawl


class Source(Base):
    """A site or data set the pairs come from (ohouse sandbox, a board config, DACON)."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="site")
    base_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    spider: Mapped[str] = mapped_column(String(100))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    job_dir: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"), default=RunStatus.running)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # liveness of a running crawl (a SIGKILLed one never writes its end): see db/runs.py
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)  # why the run failed


class Page(Base):
    """One fetched URL (list, detail, JSON endpoint), for change detection and auditing."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("source_id", "canonical_url"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(String(1000))
    status: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class Question(Base):
    """A question as crawled (or a DACON test question, split=test). Unique by (source, external id)."""

    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("source_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    author_pseudonym: Mapped[str | None] = mapped_column(String(100))
    posted_at: Mapped[datetime | None]
    view_count: Mapped[int | None] = mapped_column(BigInteger)
    comment_count: Mapped[int | None] = mapped_column(Integer)
    scrap_count: Mapped[int | None] = mapped_column(Integer)
    like_count: Mapped[int | None] = mapped_column(Integer)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # stored with fewer comments than the page stated (no comment JSON answered): see docs/crawler.md
    comments_incomplete: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    split: Mapped[Split | None] = mapped_column(_enum(Split, "split"), index=True)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    source: Mapped[Source] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="question", order_by="Answer.id")


class Answer(Base):
    """An answer or comment as crawled (replies point at their parent)."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("source_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    parent_external_id: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    author_pseudonym: Mapped[str | None] = mapped_column(String(100))
    author_badge: Mapped[str | None] = mapped_column(String(32))
    is_adopted: Mapped[bool] = mapped_column(Boolean, default=False)
    like_count: Mapped[int | None] = mapped_column(Integer)
    posted_at: Mapped[datetime | None]
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    question: Mapped[Question] = relationship(back_populates="answers")


# --------------------------------------------------------------------------- curated pairs


class Generation(Base):
    """Provenance of one LLM (or rule-based) operation that produced or judged pairs."""

    __tablename__ = "generations"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("augment_jobs.id"), index=True)
    operation: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(300))
    template_name: Mapped[str | None] = mapped_column(String(100))
    template_version: Mapped[str | None] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cache_key: Mapped[str | None] = mapped_column(ForeignKey("llm_cache.key"), index=True)
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(32), default="ok")
    error: Mapped[str | None] = mapped_column(Text)
    raw_output: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    """A reference document (PDF, HTML, Markdown, text) added with `dobae docs add`; unique by the
    sha256 of its bytes, so re-adding an unchanged file adds nothing. `text` is the extracted text
    that the chunks' character offsets point into."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(Text)  # the path or URL it was read from
    kind: Mapped[str] = mapped_column(String(16))  # pdf, html, markdown, text
    title: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)  # where it comes from, its licence
    text: Mapped[str] = mapped_column(Text)
    pages: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    chunks: Mapped[list[DocChunk]] = relationship(
        back_populates="document", order_by="DocChunk.seq", cascade="all, delete-orphan"
    )


class DocChunk(Base):
    """A run of whole sentences of a document (overlapping its neighbours); `text` equals
    `document.text[start_char:end_char]`."""

    __tablename__ = "doc_chunks"
    __table_args__ = (UniqueConstraint("document_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)  # 1-based page of the chunk's start (PDF)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)

    document: Mapped[Document] = relationship(back_populates="chunks")


class QAPair(Base):
    """A curated question–answer pair. `group_id` keeps paraphrases of one item together."""

    __tablename__ = "qa_pairs"
    __table_args__ = (Index("ix_qa_pairs_origin_category", "origin", "category"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)  # natural key, makes imports idempotent
    question_text: Mapped[str] = mapped_column(Text)
    answer_text: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(100))
    origin: Mapped[Origin] = mapped_column(_enum(Origin, "origin"), index=True)
    group_id: Mapped[str] = mapped_column(String(200), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("qa_pairs.id"), index=True)
    # every group the pair's text was built from, its own group first (a compound joins two groups,
    # a seeded pair is grounded on several); NULL = its own group only. Grouped splits hold a pair
    # out with ANY of these groups (see `groups`), so a derived pair never straddles folds.
    source_groups: Mapped[list[Any] | None] = mapped_column(JSON)
    split: Mapped[Split | None] = mapped_column(_enum(Split, "split"))
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"), index=True)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id"), index=True)
    generation_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"), index=True)
    chunk_id: Mapped[int | None] = mapped_column(ForeignKey("doc_chunks.id"), index=True)  # grounded on it
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped on every edit (optimistic review check)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    parent: Mapped[QAPair | None] = relationship(remote_side=[id])
    review: Mapped[Review | None] = relationship(back_populates="pair", uselist=False)

    @property
    def groups(self) -> list[str]:
        """Own group first, then the other source groups (no repeats)."""
        return list(dict.fromkeys([self.group_id, *(self.source_groups or [])]))


class LLMCache(Base):
    """Every LLM call, keyed by sha256 of (model, parameters, messages, seed); stored before use."""

    __tablename__ = "llm_cache"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(300))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AugmentJob(Base):
    """One augmentation job (operation + selection), so `dobae augment status` can report progress."""

    __tablename__ = "augment_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    operation: Mapped[str] = mapped_column(String(64), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"), default=RunStatus.running)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # the process running it (a SIGKILLed job never writes its end): see db/runs.py
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))


class Keyword(Base):
    __tablename__ = "keywords"
    id: Mapped[int] = mapped_column(primary_key=True)
    keyword: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PairKeyword(Base):
    __tablename__ = "pair_keywords"
    pair_id: Mapped[int] = mapped_column(ForeignKey("qa_pairs.id", ondelete="CASCADE"), primary_key=True)
    keyword_id: Mapped[int] = mapped_column(
        ForeignKey("keywords.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    generation_id: Mapped[int | None] = mapped_column(ForeignKey("generations.id"))
    score: Mapped[float | None] = mapped_column(Float)


# --------------------------------------------------------------------------- review


class Review(Base):
    """Current review state of one pair; every change is also appended to review_events."""

    __tablename__ = "reviews"
    pair_id: Mapped[int] = mapped_column(ForeignKey("qa_pairs.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[ReviewStatus] = mapped_column(
        _enum(ReviewStatus, "review_status"), default=ReviewStatus.pending, index=True
    )
    reasons: Mapped[list[Any]] = mapped_column(default=list)  # machine-readable, e.g. ["near_duplicate"]
    reviewer: Mapped[str | None] = mapped_column(String(100))  # "machine" or a person
    note: Mapped[str | None] = mapped_column(Text)
    # sha256 of the question and answer text this verdict was given on (`db.review.text_hash`):
    # a verdict holds only while the pair's text still hashes to it; NULL = no verdict (pending)
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    pair: Mapped[QAPair] = relationship(back_populates="review")


class ReviewEvent(Base):
    """Append-only log of review changes (who, when, from → to, what changed)."""

    __tablename__ = "review_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("qa_pairs.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    actor: Mapped[str] = mapped_column(String(100))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # e.g. {"answer_text": [old, new]}
    note: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[str | None] = mapped_column(String(64))  # the text the new verdict covers
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Export(Base):
    __tablename__ = "exports"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    filter: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- runs and scores


class TrainingRun(Base):
    __tablename__ = "training_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sweep_id: Mapped[str | None] = mapped_column(String(100), index=True)
    export_id: Mapped[int | None] = mapped_column(ForeignKey("exports.id"))
    data_sha256: Mapped[str | None] = mapped_column(String(64))
    base_model: Mapped[str] = mapped_column(String(500))
    output_dir: Mapped[str] = mapped_column(Text)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    git_commit: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"), default=RunStatus.running)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # the process running it (a SIGKILLed run never writes its end): see db/runs.py
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))


class InferenceRun(Base):
    __tablename__ = "inference_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    training_run_id: Mapped[int | None] = mapped_column(ForeignKey("training_runs.id"), index=True)
    run_dir: Mapped[str | None] = mapped_column(Text)
    questions_path: Mapped[str] = mapped_column(Text)
    out_path: Mapped[str] = mapped_column(Text)
    backend: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    n_questions: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"), default=RunStatus.running)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class Evaluation(Base):
    """One `dobae evaluate` result: answerer, config, embedder, data hash, commit, scores."""

    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(primary_key=True)
    answerer: Mapped[str] = mapped_column(String(100), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    embedder: Mapped[str] = mapped_column(String(300))
    data_sha256: Mapped[str] = mapped_column(String(64))
    git_commit: Mapped[str | None] = mapped_column(String(64))
    folds: Mapped[int] = mapped_column(Integer)
    mean: Mapped[float] = mapped_column(Float)
    std: Mapped[float] = mapped_column(Float)
    breakdown: Mapped[dict[str, Any]] = mapped_column(default=dict)  # per fold, single/double, category
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
