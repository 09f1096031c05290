"""The runner: one operation over its work items through client, cache and gates, stored.

One work item = one source pair (or one glossary keyword, or one document chunk) = at most one LLM
call. An item's results (generation row, derived pairs, their reviews, job progress) are written in
ONE transaction, so a job killed at any moment resumes with no duplicate and no lost row: a
finished item is recognised by its generation row (operation, item, cache key) and skipped, and a
call that finished but was not yet stored comes back from `llm_cache` without a request. The
operations themselves (what to ask, how to read the answer) are `augment.operations`.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from augment.client import Completion, LLMClient
from augment.dedup import normalise
from augment.gates import GateContext, GatePipeline
from augment.jobs import finish_job, require_schema, start_job
from augment.operations import (
    CompoundQuestions,
    Derived,
    ExtractKeywords,
    Operation,
    PairRow,
    Selection,
    WorkItem,
    get_operation,
)
from augment.parsing import ParseError
from augment.review import machine_review
from db.models import (
    AugmentJob,
    Generation,
    Keyword,
    Origin,
    PairKeyword,
    QAPair,
    RunStatus,
)
from db.session import session_scope
from foundation.settings import Settings, get_settings


@dataclass
class JobSummary:
    job_id: int
    operation: str
    total: int
    already_done: int = 0
    processed: int = 0
    errors: int = 0
    calls: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    first_error: str | None = None  # "reason: detail" of the first item that failed

    @property
    def all_failed(self) -> bool:
        """Items were tried and none succeeded (the job is `failed`; the CLI exits 1)."""
        return self.errors > 0 and self.processed == 0


class Runner:
    """Runs one operation over its work items: skip done, call (cached), parse, gate, store."""

    def __init__(
        self, op: Operation, sel: Selection, url: str | None, settings: Settings, *, offline: bool
    ) -> None:
        self.op, self.sel, self.url, self.settings, self.offline = op, sel, url, settings, offline
        self.pipeline: GatePipeline | None = None
        self.summary: JobSummary | None = None
        self.model = "rule:" + op.name
        self.client: LLMClient | None = None
        self._bar = None

    def job_params(self) -> dict[str, Any]:
        return {"selection": self.sel.params()}

    def _done_items(self) -> set[tuple[str, str | None]]:
        with session_scope(self.url) as s:
            rows = s.execute(
                select(Generation.params, Generation.cache_key).where(
                    Generation.operation == self.op.name, Generation.status != "error"
                )
            ).all()
        return {((params or {}).get("item"), key) for params, key in rows}

    def _pipeline(self) -> GatePipeline:
        if self.pipeline is None:
            ctx = GateContext.from_db(self.url, self.settings.augment.gates)
            self.pipeline = GatePipeline(ctx)
        return self.pipeline

    async def run(self, progress: bool = False) -> JobSummary:
        require_schema(self.url)
        if not self.op.uses_llm:
            return await self._run(None, progress)
        async with LLMClient(
            self.settings.llm, self.settings.augment, self._cache(), offline=self.offline
        ) as client:
            if self.op.template is not None and self.op.template.completion is not None:
                self.op.mode = client.mode
            return await self._run(client, progress)

    async def _run(self, client: LLMClient | None, progress: bool) -> JobSummary:
        with session_scope(self.url) as s:
            items = self.op.items(s, self.sel)
        job_id = start_job(self.url, self.op.name, self.job_params(), len(items))
        summary = self.summary = JobSummary(job_id, self.op.name, len(items))
        done = self._done_items()
        status = RunStatus.failed
        try:
            if client is not None:
                self.model, self.client = client.model, client
                keyed = [(it, client.key(it.request)) for it in items]
                todo = [(it, k) for it, k in keyed if (it.item_id, k) not in done]
                self._start(job_id, len(items) - len(todo), progress)
                for it, _ in todo:
                    it.request.meta.update(
                        {"operation": self.op.name, "item": it.item_id, "job": self.job_params()}
                    )
                by_item = {it.item_id: it for it, _ in todo}
                await client.complete_many(
                    [it.request for it, _ in todo],
                    on_done=lambda c: self.store(by_item[c.request.meta["item"]], c),
                )
                st = client.stats
                summary.calls, summary.cache_hits = st.calls, st.cache_hits
            else:
                todo = [it for it in items if (it.item_id, None) not in done]
                self._start(job_id, len(items) - len(todo), progress)
                for it in todo:
                    self.store(it, None)
            status = RunStatus.finished if summary.errors == 0 else RunStatus.failed
        except (KeyboardInterrupt, asyncio.CancelledError):
            status = RunStatus.interrupted
            raise
        finally:
            if self._bar is not None:
                self._bar.stop()
            finish_job(self.url, job_id, status)
        if self.pipeline is not None:
            summary.reasons.update({k: v for k, v in self.pipeline.counts.items() if k != "approved"})
        return summary

    def _cache(self):
        from augment.cache import LLMCallCache

        return LLMCallCache(self.url)

    def _start(self, job_id: int, already: int, progress: bool) -> None:
        assert self.summary is not None
        self.summary.already_done = already
        with session_scope(self.url) as s:
            job = s.get(AugmentJob, job_id)
            job.done = already
            job.errors = 0
        if progress:
            from foundation.console import progress as make_progress

            self._bar = make_progress()
            self._bar.start()
            self._task = self._bar.add_task(self.op.name, total=self.summary.total, completed=already)

    def store(self, item: WorkItem, c: Completion | None) -> None:
        """Everything one item produced, in one transaction."""
        summary = self.summary
        assert summary is not None
        tmpl = self.op.template
        params: dict[str, Any] = {
            "item": item.item_id,
            **{k: v for k, v in item.extra.items() if k != "context"},
        }
        if c is not None:
            params["llm"] = self.client.params(c.request) if self.client is not None else {}
            params["seed"] = self.settings.llm.seed
            params["cached"] = c.cached
            params["attempts"] = c.attempts
            if c.finish_reason:
                params["finish_reason"] = c.finish_reason
        if len(item.pairs) > 1:
            params["source_pair_ids"] = [p.id for p in item.pairs]
        if isinstance(self.op, CompoundQuestions):
            params["partner_id"], params["partner_group"] = item.pairs[1].id, item.pairs[1].group_id
        with session_scope(self.url) as s:
            gen = Generation(
                job_id=summary.job_id,
                operation=self.op.name,
                model=self.model,
                template_name=tmpl.name if tmpl else self.op.name,
                template_version=tmpl.version if tmpl else "1",
                params=params,
                cache_key=c.key if c is not None and c.ok else None,
                tokens_in=c.tokens_in if c else None,
                tokens_out=c.tokens_out if c else None,
                latency_ms=c.latency_ms if c else None,
                raw_output=c.content if c else None,
            )
            s.add(gen)
            job = s.get(AugmentJob, summary.job_id)
            if c is not None and not c.ok:
                gen.status, gen.error = "error", f"{c.error}: {c.detail or ''}".strip()
                job.errors += 1
                summary.errors += 1
                summary.failures[c.error] += 1
                summary.first_error = summary.first_error or gen.error
                self._advance()
                return
            if c is not None:
                summary.tokens_in += c.tokens_in or 0
                summary.tokens_out += c.tokens_out or 0
            parsed = None
            if c is not None:
                try:
                    parsed = self.op.parse(c.content)
                except ParseError as exc:
                    gen.status, gen.error = "parse_error", str(exc)
                    summary.failures["parse_error"] += 1
            if isinstance(self.op, ExtractKeywords):
                self._store_keywords(s, gen, item.pairs[0], parsed, summary)
            else:
                if c is not None and parsed is None:
                    derived = self.op.on_parse_error(item, c.content or "", gen.error or "parse_error")
                else:
                    derived = self.op.derive(item, parsed)
                if not derived:
                    gen.status, gen.error = "empty", "the output held no usable text"
                    summary.failures["empty"] += 1
                s.flush()
                for d in derived:
                    self._store_pair(s, gen, d, c)
            job.done += 1
            summary.processed += 1
        self._advance()

    def _store_pair(self, s: Session, gen: Generation, d: Derived, c: Completion | None) -> None:
        from db.export import too_long_to_export

        why = too_long_to_export(d.candidate.question) or too_long_to_export(d.candidate.answer)
        if why:  # its export could not be imported back: named on the generation, not stored
            gen.status, gen.error = "too_long_to_store", f"a generated text of {why}: not stored"
            assert self.summary is not None
            self.summary.failures["too_long_to_store"] += 1
            return
        verdict = self._pipeline().judge(d.candidate)
        tail = c.key[:16] if c is not None else "rule"
        groups = d.source_groups()
        pair = QAPair(
            key=f"augment:{self.op.name}:{gen.params['item']}:{tail}:{d.tag}",
            question_text=unicodedata.normalize("NFC", d.candidate.question),
            answer_text=unicodedata.normalize("NFC", d.candidate.answer),
            category=d.parent.category if d.parent else None,
            origin=Origin.augment,
            group_id=d.candidate.group_id,
            source_groups=groups if len(groups) > 1 or d.parent is not None else None,
            parent_id=d.parent.id if d.parent else None,
            split=d.parent.split if d.parent else None,
            generation_id=gen.id,
            chunk_id=d.chunk_id,
        )
        s.add(pair)
        machine_review(s, pair, verdict.status, verdict.reasons)
        assert self.summary is not None
        self.summary.statuses[verdict.status.value] += 1

    def _store_keywords(
        self, s: Session, gen: Generation, pair: PairRow, parsed: Any, summary: JobSummary
    ) -> None:
        if parsed is None:
            return
        text = normalise(pair.question + " " + pair.answer)
        kept, dropped = [], []
        for kw in parsed.keywords[: self.settings.augment.keywords_per_pair]:
            kw = re.sub(r"\s+", " ", kw).strip()
            if normalise(kw) and normalise(kw) in text and len(kw) <= 100:
                if kw not in kept:
                    kept.append(kw)
            else:
                dropped.append(kw)
        gen.params = {**gen.params, "kept": kept, "dropped_not_in_text": dropped}
        if not kept:
            gen.status, gen.error = "empty", "no keyword occurs in the pair's text"
            summary.failures["no_keywords"] += 1
            return
        s.flush()
        for rank, kw in enumerate(kept):
            row = s.scalar(select(Keyword).where(Keyword.keyword == kw))
            if row is None:
                row = Keyword(keyword=kw)
                s.add(row)
                s.flush()
            if s.get(PairKeyword, (pair.id, row.id)) is None:
                s.add(
                    PairKeyword(
                        pair_id=pair.id, keyword_id=row.id, generation_id=gen.id, score=1.0 / (rank + 1)
                    )
                )
        summary.statuses["keywords"] += len(kept)

    def _advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)


def run_operation(
    name: str,
    selection: Selection | None = None,
    *,
    url: str | None = None,
    settings: Settings | None = None,
    offline: bool = False,
    progress: bool = False,
) -> JobSummary:
    """Run operation `name` over `selection` (Python entry point of `dobae augment NAME`)."""
    settings = settings or get_settings()
    url = url or settings.db_url
    op = get_operation(name, settings)
    return asyncio.run(Runner(op, selection or Selection(), url, settings, offline=offline).run(progress))
