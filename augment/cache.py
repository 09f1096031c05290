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

from sqlalchemy import select

from db.models import LLMCache
from db.session import session_scope


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
        self._flusher: asyncio.Task | None = None

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
        """Insert or complete rows in one transaction (a completed response is never overwritten)."""
        if not entries:
            return
        with session_scope(self.url) as s:
            existing = {
                row.key: row
                for row in s.scalars(select(LLMCache).where(LLMCache.key.in_([e.key for e in entries])))
            }
            for e in entries:
                row = existing.get(e.key)
                if row is None:
                    row = LLMCache(key=e.key, model=e.model, request=e.request)
                    s.add(row)
                    existing[e.key] = row
                if row.response is None and e.response is not None:
                    row.response = e.response
                    row.tokens_in = e.tokens_in
                    row.tokens_out = e.tokens_out
                    row.latency_ms = e.latency_ms

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
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        await entry.done

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await asyncio.to_thread(self.put_many, batch)
            except Exception as exc:  # every waiter learns about the failure; nothing is swallowed
                for e in batch:
                    if not e.done.done():
                        e.done.set_exception(exc)
                continue
            for e in batch:
                if not e.done.done():
                    e.done.set_result(None)
