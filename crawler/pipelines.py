"""Item pipelines: validate → normalise → store.

- :class:`ValidationPipeline` turns a spider's dict into a :class:`~crawler.items.QuestionItem`;
  an invalid one is dropped with a reason counted as ``drop_item/<spider>/<reason>``.
- :class:`NormalizePipeline` canonicalises URLs, pseudonymises authors (salted HMAC from
  ``settings.crawl``) and computes the content hash used for change detection.
- :class:`DatabasePipeline` buffers the items and the fetched pages and hands them in batches to
  the crawl's store (`crawler/store.py`: upserts keyed by (source, external id), one transaction
  per batch, retried on a passing database error) from a worker thread while crawling goes on; it
  also beats the run's heartbeat and writes its end. A batch that still cannot be written stops
  the crawl: the run is stored ``interrupted`` with the reason and ``dobae crawl run`` /
  ``scrapy crawl`` exit 1 (see :class:`~crawler.store.DatabaseUnavailable`). Running the same
  crawl again stores what was missed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from scrapy import signals
from scrapy.exceptions import DropItem

from crawler.items import QuestionItem, drop_reason
from crawler.normalize import canonical_url, content_hash
from crawler.store import CrawlStore, DatabaseUnavailable, json_safe, load_known, load_known_retrying

__all__ = [  # the components `ITEM_PIPELINES` names, and what callers import from here (the store's
    # error and readers too: they were defined here before crawler/store.py)
    "DB_STOPPED", "STOPPED_BY_A_PART", "DatabasePipeline", "DatabaseUnavailable", "DiscardPipeline",
    "NormalizePipeline", "ValidationPipeline", "load_known", "load_known_retrying", "normalize_question",
    "pseudonym", "raw_notes",
]  # fmt: skip

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0  # heartbeat interval when DOBAE_DB_FLUSH_S=0 (no time-based writes)
DB_STOPPED = "database_unavailable"  # the finish reason of a crawl stopped by the database
# finish reasons of a crawl stopped by a part that failed (the database; Redis, crawler/distributed/):
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
        from crawler.addon import required

        pseudo = crawler.settings.getbool("DOBAE_PSEUDONYMIZE_AUTHORS", True)
        return cls(pseudo, required(crawler.settings, "DOBAE_AUTHOR_SALT") if pseudo else "")

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


class DatabasePipeline:
    """Items and fetched pages into the crawl's store (`crawler/store.py`) in batches, written by a
    worker thread, with a crawl_runs row and its heartbeat."""

    def __init__(
        self, crawler, db_url: str, batch_size: int, record_pages: bool, flush_s: float = 2.0,
        retry_times: int = 5, retry_backoff_s: float = 1.0,
    ) -> None:  # fmt: skip
        self.crawler = crawler
        self.retry_times = retry_times  # a failed batch is tried this many more times …
        self.retry_backoff_s = retry_backoff_s  # … after 1, 2, 4, … × this (capped at 30 s)
        self.store: CrawlStore | None = None  # opened with the spider
        self.failure: str | None = None  # set once a batch could not be written: the crawl stops
        self.db_url = db_url
        self.batch_size = batch_size
        self.record_pages = record_pages
        self.flush_s = flush_s  # buffered items are written at least this often (and the heartbeat)
        self.buffer: list[dict] = []
        self.pages: dict[str, dict] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dobae-db")
        self.pending: Future | None = None
        self.last_flush = time.monotonic()
        self.ticker = None
        self.closed = False

    @classmethod
    def from_crawler(cls, crawler):
        from crawler.addon import required

        url = required(crawler.settings, "DOBAE_DATABASE_URL")
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

        self.spider = spider or self.crawler.spider
        base = getattr(self.spider, "base_url", None)
        self.store = CrawlStore(
            self.db_url, self.crawler.stats, source=getattr(self.spider, "source_name", self.spider.name),
            base_url=str(base) if base else None, retry_times=self.retry_times,
            retry_backoff_s=self.retry_backoff_s,
        )  # fmt: skip
        self.store.open_run(
            self.spider.name, getattr(self.spider, "run_args", {}), self.crawler.settings.get("JOBDIR")
        )
        # the heartbeat always beats (a silent run is shown interrupted after db.runs.STALE_AFTER_S);
        # DOBAE_DB_FLUSH_S=0 only turns off the time-based writing of items
        self.ticker = task.LoopingCall(self._tick)
        self.ticker.start(self.flush_s if self.flush_s > 0 else HEARTBEAT_S, now=False)

    @property
    def run_id(self) -> int | None:
        """The crawl_runs row of this crawl (None before the spider opened)."""
        return None if self.store is None else self.store.run_id

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
        from db.models import RunStatus

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
            error = str(stats.get_value(FAILURE))  # e.g. Redis lost (crawler/distributed/)
        saved = json_safe(stats.get_stats())
        saved["finish_reason"] = reason
        try:
            # once the database already failed this run, one more try: the outage is not waited out twice
            self.store.end_run(status, saved, error, 1 if self.failure else None)
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
        log.debug("buffered item %s", item["question"]["external_id"])  # the batch trail (LOG_LEVEL=DEBUG)
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
        self.pending = self.executor.submit(self.store.write, items, pages)
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
            self.pending = self.executor.submit(self.store.write, [], [])  # the heartbeat only
            self.pending.add_done_callback(self._not_written)

    # ------------------------------------------------------------------ writing

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
            self.store.write(*self._take())


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
