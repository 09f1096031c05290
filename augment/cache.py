"""The LLM call cache in the `llm_cache` table.

Key = sha256 of the canonical JSON of (model, parameters, messages, seed). A response is written
(and committed) before the caller may use it, so a job killed at any moment re-runs with zero
calls for the work it already paid for. Writes are group-committed: concurrent callers that
finish together share one transaction (the benchmark's 64 requests in flight need this on SQLite).
A row with `response = NULL` is a request waiting for a Batch API result.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Text, cast, func, select

from db.models import LLMCache
from db.session import get_engine, session_scope


def cache_key(model: str, params: dict[str, Any], messages: list[dict[str, str]], seed: int | None) -> str:
    """sha256 hex of the canonical JSON of the request's identity."""
    blob = json.dumps(
        {"model": model, "params": params, "messages": messages, "seed": seed},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class CachedResponse:
    key: str
    content: str | None
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float | None
    raw: dict[str, Any] | None = None


@dataclass
class _Pending:
    key: str
    model: str
    request: dict[str, Any]
    response: dict[str, Any] | None
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float | None
    done: asyncio.Future = field(repr=False, default=None)  # type: ignore[assignment]


def _row_to_cached(row: LLMCache) -> CachedResponse | None:
    if row.response is None:
        return None
    return CachedResponse(
        key=row.key,
        content=row.response.get("content"),
        tokens_in=row.tokens_in,
        tokens_out=row.tokens_out,
        latency_ms=row.latency_ms,
        raw=row.response,
    )


class LLMCallCache:
    """Read and write the `llm_cache` table of the database at `url`."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._queue: list[_Pending] = []

    # -- reads ---------------------------------------------------------------------------
    def get_many(self, keys: list[str]) -> dict[str, CachedResponse]:
        """Completed responses for `keys` (pending batch rows are not returned)."""
        found: dict[str, CachedResponse] = {}
        unique = list(dict.fromkeys(keys))
        with session_scope(self.url) as s:
            for i in range(0, len(unique), 500):
                chunk = unique[i : i + 500]
                for row in s.scalars(select(LLMCache).where(LLMCache.key.in_(chunk))):
                    cached = _row_to_cached(row)
                    if cached is not None:
                        found[row.key] = cached
        return found

    def get(self, key: str) -> CachedResponse | None:
        return self.get_many([key]).get(key)

    def pending_requests(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Stored requests (batch rows, with or without response) for `keys`."""
        out: dict[str, dict[str, Any]] = {}
        with session_scope(self.url) as s:
            for row in s.scalars(select(LLMCache).where(LLMCache.key.in_(list(keys)))):
                out[row.key] = row.request
        return out

    # -- writes --------------------------------------------------------------------------
    def put_many(self, entries: list[_Pending]) -> None:
        """Insert or complete rows in one transaction; a stored response is never overwritten.

        One Core `INSERT … ON CONFLICT (key) DO UPDATE … WHERE response IS NULL` (SQLite and
        PostgreSQL): the ORM's per-row bookkeeping cost a fifth of the benchmark's time."""
        if not entries:
            return
        from db.models import utcnow

        engine = get_engine(self.url)
        if engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - other databases are not supported by the project
            raise NotImplementedError(engine.dialect.name)
        table = LLMCache.__table__
        rows: dict[str, dict[str, Any]] = {}
        now = utcnow()
        for e in entries:  # one row per key (a later completed response wins over a pending one)
            if e.key in rows and e.response is None:
                continue
            rows[e.key] = {
                "key": e.key,
                "model": e.model,
                "request": e.request,
                "response": e.response,
                "tokens_in": e.tokens_in,
                "tokens_out": e.tokens_out,
                "latency_ms": e.latency_ms,
                "created_at": now,
            }
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={c: stmt.excluded[c] for c in ("response", "tokens_in", "tokens_out", "latency_ms")},
            # a pending row's response is SQL NULL or JSON null (how the JSON type stores None)
            where=func.coalesce(cast(table.c.response, Text), "null") == "null",
        )
        with engine.begin() as conn:
            conn.execute(stmt, list(rows.values()))

    def put_request(self, key: str, model: str, request: dict[str, Any]) -> None:
        """Record a request whose response will arrive later (Batch API)."""
        self.put_many([_Pending(key, model, request, None, None, None, None)])

    def put_sync(
        self,
        key: str,
        model: str,
        request: dict[str, Any],
        response: dict[str, Any],
        tokens_in: int | None,
        tokens_out: int | None,
        latency_ms: float | None,
    ) -> None:
        self.put_many([_Pending(key, model, request, response, tokens_in, tokens_out, latency_ms)])

    async def put(
        self,
        key: str,
        model: str,
        request: dict[str, Any],
        response: dict[str, Any],
        tokens_in: int | None,
        tokens_out: int | None,
        latency_ms: float | None,
    ) -> None:
        """Store one response; returns once it is committed (group commit with concurrent callers)."""
        loop = asyncio.get_running_loop()
        entry = _Pending(
            key, model, request, response, tokens_in, tokens_out, latency_ms, loop.create_future()
        )
        self._queue.append(entry)
        if len(self._queue) == 1:
            loop.call_soon(self._flush)  # after the responses already read in this loop turn
        await entry.done

    def _flush(self) -> None:
        """Write everything queued in one transaction, in the loop's thread (a worker thread's
        GIL hand-offs cost more than the write), then release the waiters."""
        batch, self._queue = self._queue, []
        try:
            self.put_many(batch)
        except Exception as exc:  # every waiter learns about the failure; nothing is swallowed
            for e in batch:
                if not e.done.done():
                    e.done.set_exception(exc)
            return
        for e in batch:
            if not e.done.done():
                e.done.set_result(None)
