"""OpenAI Batch API files: write the requests of an operation, read the results back.

Input line: `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`; output line:
`{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}` in any order
(joined on `custom_id`). `custom_id` is the request's cache key, and the request is stored in
`llm_cache` (without a response) when the file is written, so results go through the same cache
and then the same gates: `read_batch` stores the responses and re-runs the operation from cache.
`vllm run-batch` reads and writes the same format.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from augment.cache import LLMCallCache
from augment.client import LLMClient
from augment.jobs import require_schema
from augment.llm_response import read_completion
from augment.operations import Selection, get_operation
from augment.runner import JobSummary, Runner, run_operation
from db.session import session_scope
from foundation.errors import ConfigError, InputError
from foundation.settings import Settings, get_settings

MAX_LINES = 50_000  # the Batch API's limit per file


@dataclass
class BatchReadResult:
    stored: int = 0
    already: int = 0
    failed: Counter = field(default_factory=Counter)
    unknown: list[str] = field(default_factory=list)
    jobs: list[JobSummary] = field(default_factory=list)


def write_batch(
    operation: str,
    selection: Selection,
    out: Path,
    *,
    url: str | None = None,
    settings: Settings | None = None,
) -> int:
    """Write the not-yet-answered requests of `operation` over `selection` to `out`; returns the count."""
    settings = settings or get_settings()
    url = url or settings.db_url
    require_schema(url)
    if not settings.llm.model:
        raise ConfigError(
            "batch files name their model: set DOBAE_LLM__MODEL (e.g. gpt-4o-mini or the vLLM model)"
        )
    op = get_operation(operation, settings)
    if not op.uses_llm:
        raise InputError(f"{operation} needs no LLM; run `dobae augment {operation}` directly")
    runner = Runner(op, selection, url, settings, offline=True)
    with session_scope(url) as s:
        items = op.items(s, selection)
    done = runner._done_items()
    cache = LLMCallCache(url)
    client = LLMClient(settings.llm, settings.augment, cache, offline=True)
    lines = []
    for it in items:
        key = client.key(it.request)
        if (it.item_id, key) in done:
            continue
        it.request.meta.update({"operation": op.name, "item": it.item_id, "job": runner.job_params()})
        lines.append((key, it.request))
    answered = cache.get_many([k for k, _ in lines])
    lines = [(k, r) for k, r in lines if k not in answered]
    if len(lines) > MAX_LINES:
        raise InputError(f"{len(lines)} requests exceed the Batch API's {MAX_LINES} per file; use --limit")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for key, req in lines:
            line = {
                "custom_id": key,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": client.body(req),
            }
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    for key, req in lines:
        cache.put_request(key, client.model, client.stored_request(req))
    tmp.replace(out)
    return len(lines)


def read_batch(path: Path, *, url: str | None = None, settings: Settings | None = None) -> BatchReadResult:
    """Store the results in `path` in the cache, then run their operations from the cache."""
    settings = settings or get_settings()
    url = url or settings.db_url
    require_schema(url)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    results: list[tuple[int, dict]] = []
    with open(path, encoding="utf-8-sig") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path} line {n}: not JSON ({exc.msg})") from exc
            if not isinstance(line, dict) or "custom_id" not in line:
                raise InputError(f"{path} line {n}: no custom_id")
            results.append((n, line))
    cache = LLMCallCache(url)
    requests = cache.pending_requests([line["custom_id"] for _, line in results])
    answered = cache.get_many(list(requests))
    out = BatchReadResult()
    for n, line in results:
        key = line["custom_id"]
        if key not in requests:
            out.unknown.append(f"line {n}: {key}")
            continue
        if key in answered:
            out.already += 1
            continue
        response = line.get("response") or {}
        status = response.get("status_code")
        if line.get("error") or status != 200:
            err = line.get("error") or {}
            out.failed[f"batch_{err.get('code') or status or 'error'}"] += 1
            continue
        parsed = read_completion(response.get("body"))
        if parsed is None:
            out.failed["bad_response"] += 1
            continue
        content, finish, tin, tout = parsed
        cache.put_sync(
            key,
            requests[key]["model"],
            requests[key],
            {"content": content, "finish_reason": finish},
            tin,
            tout,
            None,
        )
        out.stored += 1
    if results and len(out.unknown) == len(results):
        raise InputError(f"{path}: none of its custom_ids were written by `dobae augment batch-write` here")
    jobs: dict[tuple, tuple[str, dict, str]] = {}
    for key in {line["custom_id"] for _, line in results} & set(requests):
        req = requests[key]
        meta = req.get("meta") or {}
        sel = (meta.get("job") or {}).get("selection", {})
        jobs[(meta.get("operation"), json.dumps(sel, sort_keys=True), req["model"])] = (
            meta["operation"],
            sel,
            req["model"],
        )
    for op_name, sel, model in jobs.values():
        s2 = settings.model_copy(update={"llm": settings.llm.model_copy(update={"model": model})})
        out.jobs.append(run_operation(op_name, Selection(**sel), url=url, settings=s2, offline=True))
    return out


__all__ = ["BatchReadResult", "read_batch", "write_batch"]
