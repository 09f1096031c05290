"""Async client for any OpenAI-compatible server, with the call cache in front of it.

- transport (`llm.transport`, `augment.transport`): chat requests go out through the async `openai`
  SDK (default) or, for high-volume jobs on small machines, posted directly with one aiohttp
  session; the model list, when the model is not set, always comes through the SDK. Both give the
  same `Completion`s and failure reasons (the fault-server tests run both);
- bounded concurrency (`asyncio.Semaphore(llm.concurrency)`);
- retries (`augment.retry_policy`) with exponential backoff and full jitter on 429, 408, 5xx,
  timeouts and connection errors, honouring `Retry-After` / `retry-after-ms`;
- the prompt form, chat or completion (`augment.llm_mode`), resolved on entry;
- `response_format: json_schema` from the output's pydantic model when `augment.structured_output`
  is on; a server that refuses it (HTTP 400 naming response_format) gets plain requests from then
  on, and the caller parses defensively either way (`augment.parsing`);
- every call is looked up in / stored to `llm_cache` first; a failure is returned as a
  `Completion` with `error` set to a machine-readable reason (never an empty result).

`retry_after_seconds`, `connection_failure`, `resolve_mode`, `cut_at_stop` and `env_proxy` are
importable from here too (their homes are the modules named above).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from pydantic import BaseModel

from augment.cache import LLMCallCache, cache_key
from augment.llm_mode import resolve_mode
from augment.llm_response import cut_at_stop, read_completion
from augment.retry_policy import (
    FAST_FAIL,
    RETRYABLE_STATUS,
    connection_failure,
    is_final_status,
    retry_after_seconds,
    retry_delay,
)
from augment.transport import Transport, env_proxy, has_aiohttp
from foundation.errors import ConfigError
from foundation.settings import AugmentSettings, LLMSettings

__all__ = [
    "FAST_FAIL",
    "RETRYABLE_STATUS",
    "ChatRequest",
    "ClientStats",
    "Completion",
    "LLMClient",
    "connection_failure",
    "cut_at_stop",
    "env_proxy",
    "resolve_mode",
    "retry_after_seconds",
]
log = logging.getLogger(__name__)
_read_completion = read_completion  # the name augment.batch used


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion. `output` is the pydantic model the answer must fit (or None: free text).
    `meta` travels with the request (and into the batch file) but is not part of the cache key."""

    messages: list[dict[str, str]]
    output: type[BaseModel] | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None  # set: a text completion (`/completions`, no chat template) of this prompt
    stop: tuple[str, ...] = ()  # completion: stop sequences (the text is also cut at the first one)

    @property
    def is_completion(self) -> bool:
        return self.prompt is not None


@dataclass
class Completion:
    request: ChatRequest
    key: str
    content: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: float | None = None
    cached: bool = False
    error: str | None = None  # machine-readable reason: rate_limited, http_500, timeout, ...
    detail: str | None = None
    attempts: int = 0
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ClientStats:
    requests: int = 0  # HTTP requests actually sent (retries included)
    calls: int = 0  # logical calls that went to the server
    cache_hits: int = 0
    retries: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    failures: Counter = field(default_factory=Counter)


@functools.lru_cache(maxsize=64)
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


class LLMClient:
    """Use as `async with LLMClient(...) as client:`; `model` is resolved from the server when empty."""

    def __init__(
        self,
        llm: LLMSettings,
        augment: AugmentSettings,
        cache: LLMCallCache | None,
        *,
        offline: bool = False,
    ) -> None:
        self.llm = llm
        self.augment = augment
        self.cache = cache
        self.offline = offline  # cache only: a miss is an error "not_cached" (batch results)
        self.model = llm.model
        self.mode = llm.mode  # resolved on entry: "chat" or "completion"
        self.structured = augment.structured_output
        self.stats = ClientStats()
        self.sleep = asyncio.sleep  # the one place retries wait (tests give it a fake clock)
        self._sem = asyncio.Semaphore(llm.concurrency)
        self._transport: Transport | None = None
        self._prefetched: dict[str, Any] = {}
        self._checked: set[str] = set()

    @property
    def transport(self) -> str:
        """`sdk` (the openai SDK, default) or `aiohttp` (direct), from `llm.transport`."""
        if self.llm.transport == "aiohttp" and not has_aiohttp():
            raise ConfigError("DOBAE_LLM__TRANSPORT=aiohttp needs the aiohttp package: pip install aiohttp")
        return self.llm.transport

    async def __aenter__(self) -> LLMClient:
        try:
            return await self._open()
        except BaseException:
            await self.__aexit__()  # no "Unclosed client session" when the model cannot be listed
            raise

    async def _open(self) -> LLMClient:
        self._transport = Transport(self.llm, direct=self.transport == "aiohttp" and not self.offline)
        if not self.model and not self.offline:
            self.model = await self._resolve_model()
        if self.offline:  # replaying stored results (Batch API jobs are chat requests)
            self.mode = "chat" if self.llm.mode == "auto" else self.llm.mode
        else:
            self.mode = await asyncio.to_thread(resolve_mode, self.llm, self.model)
        return self

    async def __aexit__(self, *exc: object) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()

    async def _resolve_model(self) -> str:
        assert self._transport is not None
        try:
            page = await self._transport.sdk.models.list()
        except openai.APIConnectionError as exc:
            reason, detail = connection_failure(exc, self.llm.base_url, self.llm.timeout_s)
            raise ConfigError(
                f"cannot list models at {self.llm.base_url}: {reason}: {detail}; start a server "
                "(`dobae augment serve --model PATH`) or set DOBAE_LLM__BASE_URL / DOBAE_LLM__MODEL"
            ) from None
        except openai.APIError as exc:
            raise ConfigError(
                f"cannot list models at {self.llm.base_url} ({type(exc).__name__}: {exc}); "
                "start a server (`dobae augment serve --model PATH`) or set DOBAE_LLM__MODEL"
            ) from None
        ids = [m.id for m in page.data]
        if not ids:
            raise ConfigError(f"the server at {self.llm.base_url} lists no model; set DOBAE_LLM__MODEL")
        return ids[0]

    # -- identity --------------------------------------------------------------------------
    def params(self, req: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.llm.temperature if req.temperature is None else req.temperature,
            "max_tokens": self.llm.max_tokens if req.max_tokens is None else req.max_tokens,
        }
        if req.output is not None:
            params["output"] = req.output.__name__
        if req.is_completion:
            params["mode"] = "completion"
            params["stop"] = list(req.stop)
        return params

    def key(self, req: ChatRequest) -> str:
        messages = req.messages if not req.is_completion else [{"role": "prompt", "content": req.prompt}]
        return cache_key(self.model, self.params(req), messages, self.llm.seed)

    @staticmethod
    def path(req: ChatRequest) -> str:
        """The endpoint below the base URL: `/completions` for a text prompt, else `/chat/completions`."""
        return "/completions" if req.is_completion else "/chat/completions"

    def body(self, req: ChatRequest, structured: bool | None = None) -> dict[str, Any]:
        """The chat.completions request body (also a Batch API line's `body`)."""
        params = self.params(req)
        if req.is_completion:
            body = {
                "model": self.model,
                "prompt": req.prompt,
                "temperature": params["temperature"],
                "max_tokens": params["max_tokens"],
                "seed": self.llm.seed,
            }
            if req.stop:
                body["stop"] = list(req.stop)
            return body
        body: dict[str, Any] = {
            "model": self.model,
            "messages": req.messages,
            "temperature": params["temperature"],
            "max_tokens": params["max_tokens"],
            "seed": self.llm.seed,
        }
        use_schema = self.structured if structured is None else structured
        if req.output is not None and use_schema:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": req.output.__name__, "schema": _schema(req.output)},
            }
        return body

    def stored_request(self, req: ChatRequest) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": self.params(req),
            "messages": req.messages,
            **({"prompt": req.prompt, "stop": list(req.stop)} if req.is_completion else {}),
            "seed": self.llm.seed,
            "meta": req.meta,
        }

    # -- calls -----------------------------------------------------------------------------
    def prefetch(self, reqs: Sequence[ChatRequest]) -> list[str]:
        """Load cached responses for `reqs` in one query; returns their keys."""
        keys = [self.key(r) for r in reqs]
        if self.cache is not None:
            self._prefetched.update(self.cache.get_many(keys))
            self._checked.update(keys)  # misses too: no second lookup per request
        return keys

    async def complete(self, req: ChatRequest, key: str | None = None) -> Completion:
        key = key or self.key(req)
        cached = self._prefetched.pop(key, None)
        if cached is None and self.cache is not None and key not in self._checked:
            cached = await asyncio.to_thread(self.cache.get, key)
        if cached is not None:
            self.stats.cache_hits += 1
            return Completion(
                request=req,
                key=key,
                content=cached.content,
                tokens_in=cached.tokens_in,
                tokens_out=cached.tokens_out,
                latency_ms=cached.latency_ms,
                cached=True,
                finish_reason=(cached.raw or {}).get("finish_reason"),
            )
        if self.offline:
            return Completion(request=req, key=key, error="not_cached", detail="no response in llm_cache yet")
        async with self._sem:
            result = await self._call(req, key)
        if result.ok and self.cache is not None:
            response = {"content": result.content, "finish_reason": result.finish_reason}
            await self.cache.put(
                key,
                self.model,
                self.stored_request(req),
                response,
                result.tokens_in,
                result.tokens_out,
                result.latency_ms,
            )
        return result

    async def complete_many(
        self, reqs: Sequence[ChatRequest], on_done: Callable[[Completion], Any] | None = None
    ) -> list[Completion]:
        """All `reqs` concurrently (bounded); `on_done` sees each completion as it finishes."""
        keys = self.prefetch(reqs)

        async def one(r: ChatRequest, key: str) -> Completion:
            c = await self.complete(r, key)
            if on_done is not None:
                res = on_done(c)
                if asyncio.iscoroutine(res):
                    await res
            return c

        return list(await asyncio.gather(*(one(r, k) for r, k in zip(reqs, keys, strict=True))))

    async def _call(self, req: ChatRequest, key: str) -> Completion:
        assert self._transport is not None, "use `async with LLMClient(...)`"
        self.stats.calls += 1
        attempt = 0
        last_reason, last_detail = "unknown", ""
        while True:
            body = self.body(req)
            started = time.perf_counter()
            self.stats.requests += 1
            wait: float | None = None
            # The body goes out as built and serialised once (the same JSON a Batch API line
            # carries): the SDK's typed-parameter transform and deep copies cost ~0.5 ms per
            # request, a third of the budget at concurrency 64 (benchmarks/augment_bench.py).
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            sent = await self._transport.send(data, self.path(req))
            if sent.reason is None:
                latency = (time.perf_counter() - started) * 1000
                parsed = read_completion(sent.payload)
                if parsed is not None:
                    content, finish, tin, tout = parsed
                    if req.is_completion:
                        content = cut_at_stop(content, req.stop)
                    self.stats.tokens_in += tin or 0
                    self.stats.tokens_out += tout or 0
                    return Completion(
                        request=req,
                        key=key,
                        content=content,
                        tokens_in=tin,
                        tokens_out=tout,
                        latency_ms=latency,
                        attempts=attempt + 1,
                        finish_reason=finish,
                    )
                last_reason, last_detail = "bad_response", f"not a completion: {str(sent.payload)[:300]}"
            elif sent.status is not None:
                status, text = sent.status, sent.detail
                if (
                    status == 400
                    and "response_format" in body
                    and ("response_format" in text or "json_schema" in text)
                ):
                    log.warning(
                        "server refused response_format json_schema; parsing plain output from now on"
                    )
                    self.structured = False
                    continue
                last_reason, last_detail = ("rate_limited" if status == 429 else f"http_{status}"), text[:500]
                if is_final_status(status):
                    return self._fail(req, key, last_reason, last_detail, attempt + 1)
                wait = retry_after_seconds(sent.headers)
            else:
                last_reason, last_detail = sent.reason, sent.detail
                if sent.reason in FAST_FAIL:
                    return self._fail(req, key, last_reason, last_detail, attempt + 1)
            if attempt >= self.llm.max_retries:
                return self._fail(req, key, last_reason, last_detail, attempt + 1)
            delay = retry_delay(wait, self.augment, attempt)
            log.info("retry %d after %s in %.2f s", attempt + 1, last_reason, delay)
            self.stats.retries += 1
            attempt += 1
            await self.sleep(delay)

    def _fail(self, req: ChatRequest, key: str, reason: str, detail: str, attempts: int) -> Completion:
        self.stats.failures[reason] += 1
        return Completion(request=req, key=key, error=reason, detail=detail, attempts=attempts)
