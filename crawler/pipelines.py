"""Item pipelines: validate → normalise → store.

- :class:`ValidationPipeline` turns a spider's dict into a :class:`~crawler.items.QuestionItem`;
  an invalid one is dropped with a reason counted as ``drop_item/<spider>/<reason>``.
- :class:`NormalizePipeline` canonicalises URLs, pseudonymises authors (salted HMAC from
  ``settings.crawl``) and computes the content hash used for change detection.
- :class:`DatabasePipeline` upserts in batches (``insert().on_conflict_do_update`` on SQLite and
  PostgreSQL, one transaction per batch), keyed by (source, external id): unchanged questions are
  not rewritten, changed ones are updated; answers become ``qa_pairs`` (origin crawl, review
  pending) so augmentation and review see them; fetched pages are recorded; one ``crawl_runs``
  row per crawl carries the final stats. A batch the database refuses for a passing reason (a
  server restart, a dropped connection, SQLite's write lock held past its busy timeout) is written
  again after the pool is thrown away and a backoff (``DOBAE_DB_RETRY_TIMES``,
  ``DOBAE_DB_RETRY_BACKOFF_S``); one that still cannot be written stops the crawl: the run is
  stored ``interrupted`` with the reason and ``dobae crawl run`` / ``scrapy crawl`` exit 1 (see
  :class:`DatabaseUnavailable`). Running the same crawl again stores what was missed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured
from sqlalchemy import select, update

from crawler.items import QuestionItem, drop_reason
from crawler.normalize import canonical_url, content_hash

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0  # heartbeat interval when DOBAE_DB_FLUSH_S=0 (no time-based writes)
DB_STOPPED = "database_unavailable"  # the finish reason of a crawl stopped by the database
# finish reasons of a crawl stopped by a part that failed (the database; Redis, crawler/distributed.py):
# `interrupted`, with the reason, and the same crawl run again resumes it
STOPPED_BY_A_PART = {DB_STOPPED, "redis_unavailable"}
WITHDRAWN_AUTHORS = {"탈퇴한 사용자", "탈퇴한 회원", "탈퇴회원", "알수없음", "(알 수 없음)"}


def _drop(spider, reason: str, detail: str = "") -> DropItem:
    spider.crawler.stats.inc_value(f"drop_item/{spider.name}/{reason}")
    return DropItem(f"{reason}{': ' + detail if detail else ''}")


class ValidationPipeline:
    """dict → QuestionItem; invalid items are dropped with a counted reason."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: Any, spider=None) -> QuestionItem:
        if isinstance(item, QuestionItem):
            return item
        try:
            return QuestionItem.model_validate(dict(item))
        except ValidationError as exc:
            detail = str(exc.errors()[0].get("msg", ""))
            raise _drop(self.crawler.spider, drop_reason(exc), detail) from None


def pseudonym(source: str, author_id: str | None, author_name: str | None, salt: str) -> str | None:
    """A stable salted pseudonym (`u_` + 16 hex) for an author; None for missing/withdrawn authors."""
    if author_name in WITHDRAWN_AUTHORS and not author_id:
        return None
    key = author_id or author_name
    if not key:
        return None
    digest = hmac.new(salt.encode(), f"{source}:{key}".encode(), hashlib.sha256).hexdigest()
    return f"u_{digest[:16]}"


class NormalizePipeline:
    """Canonical URL, author pseudonyms and content hashes (computed on normalised fields)."""

    def __init__(self, pseudonymize: bool, salt: str) -> None:
        self.pseudonymize = pseudonymize
        self.salt = salt

    @classmethod
    def from_crawler(cls, crawler):
        from foundation.settings import get_settings

        crawl = get_settings().crawl
        pseudo = crawler.settings.getbool("DOBAE_PSEUDONYMIZE_AUTHORS", crawl.pseudonymize_authors)
        return cls(pseudo, crawl.author_salt.get_secret_value())

    def author(self, source: str, author_id: str | None, name: str | None) -> str | None:
        if self.pseudonymize:
            return pseudonym(source, author_id, name, self.salt)
        if name in WITHDRAWN_AUTHORS and not author_id:
            return None
        return name or author_id

    def process_item(self, item: QuestionItem, spider=None) -> dict:
        return normalize_question(item, self.author)


def normalize_question(item: QuestionItem, author) -> dict:
    """A validated item → the row dicts the database pipeline writes (plus hashes)."""
    q_author = author(item.source, item.author_id, item.author_name)
    answers = []
    for c in item.comments:
        a = {
            "external_id": c.external_id,
            "parent_external_id": c.parent_external_id,
            "body": None if c.is_deleted else c.body,
            "author_pseudonym": None if c.is_deleted else author(item.source, c.author_id, c.author_name),
            "author_badge": c.author_badge,
            "is_adopted": c.is_adopted,
            "like_count": c.like_count,
            "posted_at": c.posted_at,
            "is_deleted": c.is_deleted,
        }
        a["content_hash"] = content_hash({k: a[k] for k in a if k != "like_count"})
        answers.append(a)
    q = {
        "external_id": item.external_id,
        "url": canonical_url(item.url),
        "title": item.title,
        "body": item.body,
        "category": item.category,
        "keywords": item.keywords,
        "author_pseudonym": q_author,
        "posted_at": item.posted_at,
        "view_count": item.view_count,
        "comment_count": item.comment_count,
        "scrap_count": item.scrap_count,
        "like_count": item.like_count,
        "is_deleted": item.is_deleted,
        "comments_incomplete": item.comments_incomplete,
        "raw": raw_notes(item),
    }
    hashed = {
        k: q[k]
        for k in ("title", "body", "category", "keywords", "author_pseudonym", "posted_at", "is_deleted")
    }
    hashed["answers"] = [a["content_hash"] for a in answers]
    if item.comments_incomplete:  # a later complete read of the same comments is a change
        hashed["comments_incomplete"] = True
    if item.lastmod:  # a new lastmod is stored even when the text did not change
        hashed["lastmod"] = item.lastmod
    q["content_hash"] = content_hash(hashed)
    return {"kind": "question", "source": item.source, "question": q, "answers": answers}


def raw_notes(item: QuestionItem) -> dict | None:
    """What the crawl knows about the row beyond its fields (`questions.raw`): the sitemap's lastmod,
    why comments are incomplete, a title taken from the body."""
    raw: dict = {}
    if item.lastmod:
        raw["lastmod"] = item.lastmod
    if item.comments_incomplete and item.comments_incomplete_reason:
        raw["comments_incomplete"] = item.comments_incomplete_reason
    if item.title_from_body:
        raw["title_from_body"] = True
    return raw or None


class DatabaseUnavailable(Exception):
    """A batch that could not be written after its retries: the crawl stops (see the module)."""


def transient(exc: BaseException) -> bool:
    """A database error that may pass (worth a retry on a new connection): a refused or dropped
    connection, a server shutting down, SQLite's `database is locked`. Constraint and data errors
    are not: the same batch would fail the same way."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


class _Counts:
    """The stats a batch adds, applied only once its transaction committed (a retried batch is
    counted once)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + count

    def apply(self, stats) -> None:
        for key, value in self.values.items():
            stats.inc_value(key, value)


def _insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the schema supports only these two
        raise NotConfigured(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")
    return insert


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class DatabasePipeline:
    """Batched upserts into questions/answers/qa_pairs/reviews/pages + a crawl_runs row."""

    def __init__(
        self, crawler, db_url: str, batch_size: int, record_pages: bool, flush_s: float = 2.0,
        retry_times: int = 5, retry_backoff_s: float = 1.0,
    ) -> None:  # fmt: skip
        self.crawler = crawler
        self.retry_times = retry_times  # a failed batch is tried this many more times …
        self.retry_backoff_s = retry_backoff_s  # … after 1, 2, 4, … × this (capped at 30 s)
        self.failure: str | None = None  # set once a batch could not be written: the crawl stops
        self.db_url = db_url
        self.batch_size = batch_size
        self.record_pages = record_pages
        self.flush_s = flush_s  # buffered items are written at least this often (and the heartbeat)
        self.buffer: list[dict] = []
        self.pages: dict[str, dict] = {}
        self.source_ids: dict[str, int] = {}
        self.run_id: int | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dobae-db")
        self.pending: Future | None = None
        self.last_flush = time.monotonic()
        self.ticker = None
        self.closed = False

    @classmethod
    def from_crawler(cls, crawler):
        from foundation.settings import get_settings

        url = crawler.settings.get("DOBAE_DATABASE_URL") or get_settings().db_url
        pipe = cls(
            crawler,
            url,
            crawler.settings.getint("DOBAE_DB_BATCH_SIZE", 200),
            crawler.settings.getbool("DOBAE_RECORD_PAGES", True),
            crawler.settings.getfloat("DOBAE_DB_FLUSH_S", 2.0),
            crawler.settings.getint("DOBAE_DB_RETRY_TIMES", 5),
            crawler.settings.getfloat("DOBAE_DB_RETRY_BACKOFF_S", 1.0),
        )
        crawler.signals.connect(pipe.response_received, signal=signals.response_received)
        crawler.signals.connect(pipe.spider_closed, signal=signals.spider_closed)
        return pipe

    # ------------------------------------------------------------------ lifecycle

    def open_spider(self, spider=None) -> None:
        from twisted.internet import task

        from db.migrate import ensure_schema
        from db.models import CrawlRun
        from db.runs import hostname, mark_interrupted
        from db.session import get_engine, session_scope

        self.spider = spider or self.crawler.spider
        ensure_schema(self.db_url)
        self.engine = get_engine(self.db_url)
        self.insert = _insert(self.engine.dialect.name)
        source = getattr(self.spider, "source_name", self.spider.name)
        args = {k: v for k, v in _json_safe(getattr(self.spider, "run_args", {})).items()}
        with session_scope(self.db_url) as s:
            gone = mark_interrupted(s)  # earlier runs killed without a word
            if gone:
                log.info("crawl run(s) %s were killed before they ended: marked interrupted", gone)
            now = datetime.now(UTC)
            run = CrawlRun(
                source_id=self._source_id(s, source),
                spider=self.spider.name,
                args=args,
                job_dir=self.crawler.settings.get("JOBDIR"),
                pid=os.getpid(),
                host=hostname(),
                started_at=now,
                heartbeat_at=now,
            )
            s.add(run)
            s.flush()
            self.run_id = run.id
        # the heartbeat always beats (a silent run is shown interrupted after db.runs.STALE_AFTER_S);
        # DOBAE_DB_FLUSH_S=0 only turns off the time-based writing of items
        self.ticker = task.LoopingCall(self._tick)
        self.ticker.start(self.flush_s if self.flush_s > 0 else HEARTBEAT_S, now=False)

    def close_spider(self, spider=None) -> None:
        if self.ticker is not None and self.ticker.running:
            self.ticker.stop()
        try:
            self.flush()
        except DatabaseUnavailable as exc:
            self._stop(exc)
        finally:
            self.executor.shutdown(wait=True)
            self.closed = True

    def spider_closed(self, spider, reason: str) -> None:
        """The run's row gets its end (after close_spider: Scrapy sends this signal later)."""
        from crawler.monitor import FAILURE, failure_reason
        from db.models import CrawlRun, RunStatus
        from db.session import session_scope

        if self.run_id is None:
            return
        stats = self.crawler.stats
        status = {"finished": RunStatus.finished, "shutdown": RunStatus.interrupted}.get(
            reason, RunStatus.failed
        )
        error = None
        if self.failure or reason in STOPPED_BY_A_PART:  # resumable
            status, error = RunStatus.interrupted, self.failure or str(stats.get_value(FAILURE))
        elif status == RunStatus.finished:
            error = failure_reason(stats.get_stats(), getattr(spider, "base_url", None))
            if error:
                status = RunStatus.failed
                stats.set_value(FAILURE, error)
        elif status == RunStatus.failed:
            error = f"the crawl stopped: {reason}"
        elif status == RunStatus.interrupted and stats.get_value(FAILURE):
            error = str(stats.get_value(FAILURE))  # e.g. Redis lost (crawler/distributed.py)
        saved = _json_safe(stats.get_stats())
        saved["finish_reason"] = reason
        now = datetime.now(UTC)

        def write_end() -> None:
            with session_scope(self.db_url) as s:
                s.execute(
                    update(CrawlRun)
                    .where(CrawlRun.id == self.run_id)
                    .values(status=status, finished_at=now, heartbeat_at=now, stats=saved, error=error)
                )

        try:
            # once the database already failed this run, one more try: the outage is not waited out twice
            self._retrying(write_end, "the end of the crawl run", 1 if self.failure else None)
        except DatabaseUnavailable as exc:  # its pid is gone soon: shown `interrupted` (db/runs.py)
            log.error("crawl run %s: %s; it will show as interrupted", self.run_id, exc)

    def response_received(self, response, request, spider) -> None:
        if not self.record_pages or request.meta.get("dobae_no_page_record"):
            return
        url = canonical_url(response.url)
        self.pages[url] = {
            "url": response.url,
            "canonical_url": url[:1000],
            "status": response.status,
            "content_hash": hashlib.sha256(response.body).hexdigest(),
            "fetched_at": datetime.now(UTC),
        }

    async def process_item(self, item: dict, spider=None) -> dict:
        """Buffer the item; a full batch — or whatever is buffered once `flush_s` has passed — is
        written by a worker thread while crawling goes on (one batch in flight at a time, so memory
        stays bounded and writes stay ordered)."""
        if self.failure:  # the crawl is stopping: nothing more can be written by this run
            self.crawler.stats.inc_value("db/items_not_written")
            return item
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size:
            await self._wait_pending()
            self._submit_after_wait()
        elif self.flush_s > 0 and time.monotonic() - self.last_flush >= self.flush_s:
            if self.pending is None or self.pending.done():
                await self._wait_pending()
                self._submit_after_wait()
        return item

    def _submit_after_wait(self) -> None:
        """Many items can wait for one batch in flight. Once it is written, the first one writes
        the buffer and the others find it empty; once it has failed (the crawl is stopping), none
        writes: each used to try a write of its own with all its retries, which kept a stopped
        crawl alive for the retries of every waiting item (28 s with 2 retries in the outage test)."""
        if not self.failure and (self.buffer or self.pages):
            self._submit()

    async def _wait_pending(self) -> None:
        """Wait for the batch in flight. One that could not be written (after its retries) stops
        the crawl; the batch is forgotten either way, so a later one is not failed by it."""
        while self.pending is not None:
            pending = self.pending
            try:
                await asyncio.wrap_future(pending)
            except DatabaseUnavailable as exc:
                self._stop(exc)
            finally:
                if self.pending is pending:
                    self.pending = None

    def _stop(self, exc: DatabaseUnavailable) -> None:
        """The database could not take a batch: record why, and stop the crawl (once)."""
        from crawler.monitor import FAILURE

        stats = self.crawler.stats
        lost = len(self.buffer)
        self.buffer, self.pages = [], {}
        stats.inc_value("db/items_not_written", lost)
        if self.failure:
            return
        self.failure = f"{exc}; the crawl was stopped: run the same crawl again to store what is missing"
        stats.set_value(FAILURE, self.failure)
        log.error("crawl stopped: %s", self.failure)
        engine = getattr(self.crawler, "engine", None)
        if engine is not None and engine.running and not self.closed:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason=DB_STOPPED))

    def _submit(self) -> None:
        items, pages = self._take()
        self.last_flush = time.monotonic()
        self.pending = self.executor.submit(self._write, items, pages)
        self.pending.add_done_callback(self._not_written)

    def _not_written(self, future: Future) -> None:
        """A batch that failed in the worker thread stops the crawl even if no item comes after it
        (the end of a crawl, a heartbeat)."""
        if isinstance(future.exception(), DatabaseUnavailable):
            from twisted.internet import reactor

            reactor.callFromThread(self._failed_in_background, future)

    def _failed_in_background(self, future: Future) -> None:
        if self.pending is future:
            self.pending = None
            self._stop(future.exception())

    def _tick(self) -> None:
        """Every `flush_s`: write what is buffered (a SIGKILL loses at most the last few seconds),
        and the run's heartbeat (`crawl_runs.heartbeat_at`: a run that stops beating is over)."""
        pending = self.pending
        if self.closed or self.failure:
            return
        if pending is not None and (not pending.done() or pending.exception() is not None):
            return  # a batch in flight beats for us; a failed one stops the crawl (_not_written)
        self.pending = None
        if self.flush_s > 0:
            self._submit()
        else:
            self.pending = self.executor.submit(self._write, [], [])  # the heartbeat only
            self.pending.add_done_callback(self._not_written)

    # ------------------------------------------------------------------ writing

    def _source_id(self, session, name: str) -> int:
        from db.sources import ensure_source

        if name in self.source_ids:
            return self.source_ids[name]
        base = getattr(self.spider, "base_url", None)
        sid = ensure_source(session, name, "site", str(base) if base else None)  # an upsert
        self.source_ids[name] = sid
        return sid

    def _take(self) -> tuple[list[dict], list[dict]]:
        items, self.buffer = self.buffer, []
        pages, self.pages = list(self.pages.values()), {}
        return items, pages

    def flush(self) -> None:
        """Wait for the batch in flight, then write what is buffered (in this thread)."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()
        if (self.buffer or self.pages) and not self.failure:
            self._write(*self._take())

    def _retrying(self, write, what: str, times: int | None = None) -> None:
        """`write()`, tried again on a passing database error (see `transient`) with a new pool
        after 1, 2, 4, … × `retry_backoff_s`; `DatabaseUnavailable` once the tries are spent, or
        at once for an error a retry cannot mend."""
        from sqlalchemy.exc import DBAPIError

        from db.session import database_error, get_engine

        times = self.retry_times if times is None else times
        for attempt in range(times + 1):
            try:
                write()
                if attempt:
                    self.crawler.stats.inc_value("db/retries_succeeded")
                    log.info("database write succeeded on try %d (%s)", attempt + 1, what)
                return
            except Exception as exc:
                if not transient(exc):
                    if not isinstance(
                        exc, DBAPIError
                    ):  # not the database's answer: a bug, keep its traceback
                        log.exception("writing %s failed", what)
                    raise DatabaseUnavailable(
                        f"{what} could not be written to the database: {type(exc).__name__}: {first_line(exc)}"
                    ) from exc
                why = str(database_error(self.db_url, exc))
                if attempt == times:
                    raise DatabaseUnavailable(
                        f"{what} could not be written after {attempt + 1} tries: {why}"
                    ) from exc
                delay = min(self.retry_backoff_s * 2**attempt, 30.0)
                self.crawler.stats.inc_value("db/retries")
                log.warning("database write failed (%s), try %d of %d in %.1f s: %s",
                            what, attempt + 2, times + 1, delay, why)  # fmt: skip
                get_engine(self.db_url).dispose()  # a restarted server leaves dead pooled connections
                time.sleep(delay)

    def _write(self, items: list[dict], pages: list[dict]) -> None:
        """Write items and pages in one transaction (all or nothing), retried (`_retrying`)."""
        counts = _Counts()

        def write() -> None:
            counts.values.clear()
            self._write_once(items, pages, counts)

        what = f"a batch of {len(items)} item(s)" if items or pages else "the heartbeat"
        try:
            self._retrying(write, what)
        except DatabaseUnavailable:
            self.crawler.stats.inc_value("db/items_not_written", len(items))
            raise
        counts.apply(self.crawler.stats)

    def _write_once(self, items: list[dict], pages: list[dict], stats) -> None:
        """One transaction. Rows go out sorted by their key, table after table in one order, so two
        crawls writing the same rows at once on PostgreSQL lock them in the same order (no
        deadlock)."""
        from db.models import CrawlRun
        from db.session import session_scope

        with session_scope(self.db_url) as s:
            if self.run_id is not None:
                s.execute(
                    update(CrawlRun).where(CrawlRun.id == self.run_id).values(heartbeat_at=datetime.now(UTC))
                )
            by_source: dict[str, list[dict]] = {}
            for it in items:
                by_source.setdefault(it["source"], []).append(it)
            for source, group in by_source.items():
                self._write_questions(s, source, group, stats)
            if pages:
                self._write_pages(s, pages, stats)
        if items or pages:
            stats.inc_value("db/batches")

    def _write_pages(self, s, pages: list[dict], stats) -> None:
        from db.models import Page

        sid = self._source_id(s, getattr(self.spider, "source_name", self.spider.name))
        rows = [{**p, "source_id": sid, "crawl_run_id": self.run_id} for p in pages]
        rows.sort(key=lambda r: r["canonical_url"])  # one lock order for concurrent crawls (see _write)
        stmt = self.insert(Page.__table__)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source_id", "canonical_url"],
            set_={
                c: stmt.excluded[c] for c in ("url", "status", "content_hash", "fetched_at", "crawl_run_id")
            },
        )
        s.execute(stmt, rows)
        stats.inc_value("db/pages", len(rows))

    def _write_questions(self, s, source: str, group: list[dict], stats) -> None:
        from db.models import Question

        sid = self._source_id(s, source)
        latest: dict[str, dict] = {}
        for it in group:  # the last version of a question within the batch wins
            latest[it["question"]["external_id"]] = it
        qt = Question.__table__
        existing = {
            row.external_id: (row.id, row.content_hash, row.is_deleted)
            for row in s.execute(
                select(qt.c.id, qt.c.external_id, qt.c.content_hash, qt.c.is_deleted).where(
                    qt.c.source_id == sid, qt.c.external_id.in_(list(latest))
                )
            )
        }
        now = datetime.now(UTC)
        live, deleted = [], []
        for ext, it in sorted(latest.items()):
            q = it["question"]
            old = existing.get(ext)
            if q["is_deleted"]:
                if old is None or not old[2]:
                    deleted.append(ext)
                else:
                    stats.inc_value("db/questions_unchanged")
            elif old is not None and old[1] == q["content_hash"] and not old[2]:
                stats.inc_value("db/questions_unchanged")
            else:
                stats.inc_value("db/questions_updated" if old else "db/questions_inserted")
                live.append(it)
        if live:
            rows = [
                {
                    **it["question"],
                    "source_id": sid,
                    "crawl_run_id": self.run_id,
                    "last_seen_at": now,
                    "updated_at": now,
                }
                for it in live
            ]
            stmt = self.insert(qt)
            cols = [c for c in rows[0] if c not in ("source_id", "external_id")]
            stmt = stmt.on_conflict_do_update(
                index_elements=["source_id", "external_id"],
                set_={c: stmt.excluded[c] for c in cols},
                where=qt.c.content_hash.is_distinct_from(stmt.excluded.content_hash) | qt.c.is_deleted,
            )
            s.execute(stmt, rows)
        if deleted:
            stmt = self.insert(qt)
            stmt = stmt.on_conflict_do_update(
                index_elements=["source_id", "external_id"],
                set_={
                    "is_deleted": True,
                    "last_seen_at": now,
                    "updated_at": now,
                    "crawl_run_id": self.run_id,
                },
            )
            s.execute(
                stmt,
                [
                    {
                        **latest[ext]["question"],
                        "source_id": sid,
                        "crawl_run_id": self.run_id,
                        "last_seen_at": now,
                        "updated_at": now,
                    }
                    for ext in deleted
                ],
            )
            stats.inc_value("db/questions_deleted", len(deleted))
        if live:
            ids = dict(
                s.execute(
                    select(qt.c.external_id, qt.c.id).where(
                        qt.c.source_id == sid,
                        qt.c.external_id.in_([it["question"]["external_id"] for it in live]),
                    )
                ).all()
            )
            self._write_answers(s, source, sid, live, ids, now, stats)

    def _write_answers(
        self, s, source: str, sid: int, live: list[dict], qids: dict[str, int], now, stats
    ) -> None:
        from db.models import Answer

        at = Answer.__table__
        rows = []
        for it in live:
            qid = qids[it["question"]["external_id"]]
            for a in it["answers"]:
                rows.append({**a, "source_id": sid, "question_id": qid, "updated_at": now})
        if not rows:
            return
        rows.sort(key=lambda r: r["external_id"])
        stmt = self.insert(at)
        cols = [c for c in rows[0] if c not in ("source_id", "external_id")]
        stmt = stmt.on_conflict_do_update(
            index_elements=["source_id", "external_id"],
            set_={c: stmt.excluded[c] for c in cols},
            where=at.c.content_hash.is_distinct_from(stmt.excluded.content_hash)
            | at.c.like_count.is_distinct_from(stmt.excluded.like_count),
        )
        s.execute(stmt, rows)
        stats.inc_value("db/answers_written", len(rows))
        self._write_pairs(s, source, live, qids, now, stats)

    def _write_pairs(self, s, source: str, live: list[dict], qids: dict[str, int], now, stats) -> None:
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
                        Answer.source_id == self.source_ids[source], Answer.external_id.in_(part)
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
                    log.warning(
                        "answer %s of question %s: %s: no pair", a["external_id"], q["external_id"], why
                    )
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
        before = self._stored_texts(s, [r["key"] for r in rows])
        stmt = self.insert(pt)
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
        rstmt = self.insert(rt).on_conflict_do_nothing(index_elements=["pair_id"])
        s.execute(
            rstmt,
            [
                {"pair_id": pid, "status": ReviewStatus.pending.value, "reasons": []}
                for pid in sorted(pair_ids)
            ],
        )
        self._reopen_changed(s, rows, before, now, stats)
        stats.inc_value("db/qa_pairs_written", len(rows))

    def _stored_texts(self, s, keys: list[str]) -> dict[str, tuple]:
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

    def _reopen_changed(self, s, rows: list[dict], before: dict[str, tuple], now, stats) -> None:
        """A pair whose text this crawl changed goes back to `pending`: no verdict (the machine's
        curation or a person's approval) covers the new text. Each is one `review_events` row by
        `machine:crawl` with the old and new texts."""
        from db.models import Review, ReviewEvent, ReviewStatus

        events = []
        for r in rows:  # sorted by key: one lock order for concurrent crawls (see _write)
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
            note = f"text changed by crawl run {self.run_id} (version {version} -> {version + 1}); judge it again"
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


class DiscardPipeline:
    """Counts and drops every item (the benchmark's baseline: the same crawl, nothing stored)."""

    def process_item(self, item, spider=None):
        self.crawler.stats.inc_value("discarded_items")
        raise DropItem("discarded (benchmark baseline)")

    @classmethod
    def from_crawler(cls, crawler):
        pipe = cls()
        pipe.crawler = crawler
        return pipe


def load_known(db_url: str, source: str) -> dict[str, tuple[int | None, bool, str | None, bool]]:
    """external id → (comment_count, is_deleted, sitemap lastmod, comments_incomplete) stored for
    `source` (incremental/resume)."""
    from db.migrate import ensure_schema
    from db.models import Question, Source
    from db.session import session_scope

    ensure_schema(db_url)
    with session_scope(db_url) as s:
        rows = s.execute(
            select(
                Question.external_id,
                Question.comment_count,
                Question.is_deleted,
                Question.raw,
                Question.comments_incomplete,
            )
            .join(Source, Source.id == Question.source_id)
            .where(Source.name == source)
        ).all()
    return {r[0]: (r[1], bool(r[2]), (r[3] or {}).get("lastmod"), bool(r[4])) for r in rows}


def load_known_retrying(crawler, db_url: str, source: str) -> dict[str, tuple]:
    """`load_known`, tried again on a passing database error like a batch (DOBAE_DB_RETRY_TIMES,
    DOBAE_DB_RETRY_BACKOFF_S, a new pool each time); `DatabaseUnavailable` when it cannot be read."""
    from sqlalchemy.exc import DBAPIError

    from db.session import database_error, get_engine

    times = crawler.settings.getint("DOBAE_DB_RETRY_TIMES", 5)
    backoff = crawler.settings.getfloat("DOBAE_DB_RETRY_BACKOFF_S", 1.0)
    for attempt in range(times + 1):
        try:
            return load_known(db_url, source)
        except DBAPIError as exc:
            if not transient(exc) or attempt == times:
                raise DatabaseUnavailable(
                    f"the stored questions could not be read: {database_error(db_url, exc)}"
                ) from exc
            crawler.stats.inc_value("db/retries")
            log.warning("reading the stored questions failed, try %d of %d: %s", attempt + 2, times + 1,
                        first_line(exc))  # fmt: skip
            get_engine(db_url).dispose()
            time.sleep(min(backoff * 2**attempt, 30.0))
    raise AssertionError("unreachable")
