"""The crawl's SQL store: one crawl run's rows in the database, written in batches.

:class:`CrawlStore` upserts a batch in one transaction (``insert().on_conflict_do_update`` on
SQLite and PostgreSQL), keyed by (source, external id): unchanged questions are not rewritten,
changed ones are updated; answers become ``qa_pairs`` (origin crawl, review pending; a pair whose
text changed goes back to ``pending``) so augmentation and review see them; fetched pages are
recorded; one ``crawl_runs`` row per crawl carries its heartbeat and, at the end, the final stats.
A batch the database refuses for a passing reason (a server restart, a dropped connection,
SQLite's write lock held past its busy timeout) is written again after the pool is thrown away and
a backoff (``DOBAE_DB_RETRY_TIMES``, ``DOBAE_DB_RETRY_BACKOFF_S``); one that still cannot be
written raises :class:`DatabaseUnavailable`, and the database pipeline (`crawler/pipelines.py`)
stops the crawl. A batch's stats count only once it committed.

:func:`load_known` reads what is stored for a source (incremental crawls, resume).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from scrapy.exceptions import NotConfigured
from sqlalchemy import select, update

from crawler.store_pairs import write_pairs

log = logging.getLogger(__name__)


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


def json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class CrawlStore:
    """One crawl run's rows: its `crawl_runs` row, then batches of items and pages, each in one
    transaction retried on a passing database error. `stats`: the crawl's stats (retries, rows
    written, items not written)."""

    def __init__(
        self, db_url: str, stats, *, source: str, base_url: str | None = None, retry_times: int = 5,
        retry_backoff_s: float = 1.0,
    ) -> None:  # fmt: skip
        self.db_url = db_url
        self.stats = stats
        self.source = source  # the spider's source: the source of the pages recorded
        self.base_url = base_url
        self.retry_times = retry_times  # a failed batch is tried this many more times …
        self.retry_backoff_s = retry_backoff_s  # … after 1, 2, 4, … × this (capped at 30 s)
        self.source_ids: dict[str, int] = {}
        self.run_id: int | None = None
        self.insert = None  # the dialect's `insert` (upserts), known once the run is opened

    # ------------------------------------------------------------------ the run's row

    def open_run(self, spider: str, args: dict, job_dir: str | None) -> int:
        """The schema made current, earlier runs killed without a word marked `interrupted`, and
        this run's `crawl_runs` row (its id)."""
        from db.migrate import ensure_schema
        from db.models import CrawlRun
        from db.runs import hostname, mark_interrupted
        from db.session import get_engine, session_scope

        ensure_schema(self.db_url)
        self.insert = _insert(get_engine(self.db_url).dialect.name)
        with session_scope(self.db_url) as s:
            gone = mark_interrupted(s)  # earlier runs killed without a word
            if gone:
                log.info("crawl run(s) %s were killed before they ended: marked interrupted", gone)
            now = datetime.now(UTC)
            run = CrawlRun(
                source_id=self.source_id(s, self.source),
                spider=spider,
                args=json_safe(args),
                job_dir=job_dir,
                pid=os.getpid(),
                host=hostname(),
                started_at=now,
                heartbeat_at=now,
            )
            s.add(run)
            s.flush()
            self.run_id = run.id
        return self.run_id

    def end_run(self, status, stats: dict, error: str | None, times: int | None = None) -> None:
        """The run's end: its status, final stats and error (retried like a batch, `times` more
        tries instead of `retry_times`); `DatabaseUnavailable` when it cannot be written."""
        from db.models import CrawlRun
        from db.session import session_scope

        now = datetime.now(UTC)

        def write_end() -> None:
            with session_scope(self.db_url) as s:
                s.execute(
                    update(CrawlRun)
                    .where(CrawlRun.id == self.run_id)
                    .values(status=status, finished_at=now, heartbeat_at=now, stats=stats, error=error)
                )

        self.retrying(write_end, "the end of the crawl run", times)

    def source_id(self, session, name: str) -> int:
        from db.sources import ensure_source

        if name in self.source_ids:
            return self.source_ids[name]
        base = self.base_url
        sid = ensure_source(session, name, "site", str(base) if base else None)  # an upsert
        self.source_ids[name] = sid
        return sid

    # ------------------------------------------------------------------ batches

    def retrying(self, write, what: str, times: int | None = None) -> None:
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
                    self.stats.inc_value("db/retries_succeeded")
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
                self.stats.inc_value("db/retries")
                log.warning("database write failed (%s), try %d of %d in %.1f s: %s",
                            what, attempt + 2, times + 1, delay, why)  # fmt: skip
                get_engine(self.db_url).dispose()  # a restarted server leaves dead pooled connections
                time.sleep(delay)

    def write(self, items: list[dict], pages: list[dict]) -> None:
        """Write items and pages in one transaction (all or nothing), retried (`retrying`); the
        batch's stats are counted once it committed. With neither: the run's heartbeat only."""
        counts = _Counts()

        def write() -> None:
            counts.values.clear()
            self._write_once(items, pages, counts)

        what = f"a batch of {len(items)} item(s)" if items or pages else "the heartbeat"
        try:
            self.retrying(write, what)
        except DatabaseUnavailable:
            self.stats.inc_value("db/items_not_written", len(items))
            raise
        counts.apply(self.stats)
        if items:  # the batch trail (LOG_LEVEL=DEBUG): what a SIGKILL can no longer take back
            log.debug(
                "wrote a batch of %d item(s): %s",
                len(items),
                " ".join(i["question"]["external_id"] for i in items),
            )

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

    # ------------------------------------------------------------------ rows

    def _write_pages(self, s, pages: list[dict], stats) -> None:
        from db.models import Page

        sid = self.source_id(s, self.source)
        rows = [{**p, "source_id": sid, "crawl_run_id": self.run_id} for p in pages]
        rows.sort(key=lambda r: r["canonical_url"])  # one lock order for concurrent crawls (see _write_once)
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

        sid = self.source_id(s, source)
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
        write_pairs(s, self.insert, source, sid, self.run_id, live, qids, now, stats)


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
