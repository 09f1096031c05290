"""Batched answer generation with a trained run (train/RUN_DIR.md): the engine behind `dobae infer`
and the `llm` answerer.

Pipeline per question: split a compound question (`qa.splitting`) → for each part, optionally
retrieve the top-k training pairs into the shared prompt (`qa.prompt.build_prompt`) → generate
`n` candidates (greedy first, then samples) → post-process (`infer.postprocess`) → select one
(`infer.select`) → join the parts' answers with a space.

The backends that generate (transformers, vLLM) are `infer/backends.py`. `run_infer` is
resumable: finished chunks go to a partial file that a restarted job skips (`infer/partial.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from foundation.errors import ConfigError, InputError
from infer.backends import load_generator
from infer.partial import append_chunk, partial_path, read_partial, write_answers
from infer.postprocess import postprocess
from infer.select import needs_references, parse_weights, select
from qa.pairs import read_export
from qa.prompt import build_prompt
from qa.retrieval import make_retriever
from qa.splitting import clean_question, split_question


class InferOptions(BaseModel):
    """How answers are generated (CLI flags / `-o key=value` answerer options map onto these)."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["auto", "transformers", "vllm"] = Field(
        "auto", description="auto: vLLM when installed, else transformers"
    )
    batch_size: int = Field(8, ge=1, description="prompts per generate() call (sorted by length)")
    max_new_tokens: int | None = Field(
        None, ge=1, description="answer length in tokens; None: the run card's suggestion (else 120)"
    )
    n: int = Field(1, ge=1, le=64, description="candidates per question part: greedy + n-1 samples")
    temperature: float = Field(0.8, gt=0, le=2, description="sampling temperature of candidates 2..n")
    top_p: float = Field(0.95, gt=0, le=1, description="nucleus sampling of candidates 2..n")
    repetition_penalty: float = Field(
        1.0, ge=1.0, le=2.0, description="> 1 discourages repeating tokens already generated (1 = off)"
    )
    seed: int = Field(42, description="sampling seed (per chunk: seed + chunk number)")
    context_k: int | None = Field(
        None, ge=0, description="retrieved pairs in the prompt; None: what the run was trained with"
    )
    select: str = Field(
        "reference", description="candidate selection: first|reference|question|mbr|reference+mbr|term=w,…"
    )
    select_k: int = Field(3, ge=1, description="retrieved answers whose centroid the reference term uses")
    pool: bool = Field(
        False,
        description="add the compose answerer's answer and its best sentences to each part's candidates; "
        "the selection picks from the pool",
    )
    pool_sentences: int = Field(3, ge=0, description="single best sentences of the composer in the pool")
    split: bool = Field(True, description="split compound questions at 또한/그리고 and answer each part")
    postprocess: bool = Field(True, description="drop prompt echo and repeats, fit the 128-piece window")
    chunk_size: int = Field(32, ge=1, description="questions per resumable chunk of `dobae infer`")


# --------------------------------------------------------------------------- the answering pipeline


@dataclass
class Answered:
    question: str
    answer: str
    parts: list[dict[str, Any]] = field(default_factory=list)


def run_context_k(card: dict[str, Any]) -> int:
    """The retrieved pairs per prompt the run was trained with (inference's default)."""
    return int((card.get("context") or {}).get("k", 0))


def run_embedder_spec(card: dict[str, Any]) -> str | None:
    """The embedder spec of the retriever the run was trained with (None: trained without context)."""
    return (card.get("context") or {}).get("embedder_spec")


class Pipeline:
    """split → retrieve → prompt → generate candidates → post-process → select → join."""

    def __init__(
        self,
        generator,
        card: dict[str, Any],
        options: InferOptions,
        *,
        retriever=None,
        embedder=None,
        composer=None,
    ):
        self.gen, self.card, self.opt = generator, card, options
        self.weights = parse_weights(options.select) if options.n > 1 or options.pool else {}
        if options.pool and composer is None:
            raise ConfigError("the candidate pool needs a fitted compose answerer (training pairs)")
        self.composer = composer
        self.context_k = run_context_k(card) if options.context_k is None else options.context_k
        self.max_new_tokens = options.max_new_tokens or int(
            (card.get("generation") or {}).get("max_new_tokens") or 120
        )
        if (self.context_k or needs_references(self.weights)) and retriever is None:
            raise ConfigError(
                "retrieved context or reference selection needs training pairs to retrieve from"
            )
        if self.weights and embedder is None:
            raise ConfigError("candidate selection needs an embedder")
        self.retriever, self.embedder = retriever, embedder

    def answer(self, questions: Sequence[str], *, seed_offset: int = 0) -> list[Answered]:
        opt = self.opt
        parts = [split_question(q) if opt.split else [clean_question(q)] for q in questions]
        flat = [p for ps in parts for p in ps]
        if not flat:
            return []
        k_ret = max(self.context_k, opt.select_k if needs_references(self.weights) else 0)
        retrieved = self.retriever.retrieve_many(flat, k_ret) if k_ret else [[] for _ in flat]
        prompts = [
            build_prompt(p, [(q, a) for q, a, _ in r[: self.context_k]])
            for p, r in zip(flat, retrieved, strict=True)
        ]
        cands = self.gen.generate(
            prompts,
            n=opt.n,
            max_new_tokens=self.max_new_tokens,
            batch_size=opt.batch_size,
            temperature=opt.temperature,
            top_p=opt.top_p,
            seed=opt.seed + seed_offset,
            repetition_penalty=opt.repetition_penalty,
        )
        raw = cands
        if opt.postprocess:
            cands = [[postprocess(c, p) for c in cs] for p, cs in zip(flat, cands, strict=True)]
        origins = [["llm"] * len(cs) for cs in cands]
        if opt.pool:  # the composer's answer and best sentences join the LLM's candidates
            for j, t in enumerate(self.composer.compose_parts(flat)):
                extra = [t.answer, *t.top_sentences[: opt.pool_sentences]]
                extra = [e for e in dict.fromkeys(extra) if e not in cands[j]]
                cands[j] = [*cands[j], *extra]
                raw[j] = [*raw[j], *extra]
                origins[j] = [*origins[j], "compose", *["sentence"] * (len(extra) - 1)]
        chosen, scores = self._select(flat, cands, retrieved)
        fallback = [None] * len(flat)
        for j, cs in enumerate(cands):
            if not cs[chosen[j]].strip():  # nothing left: the raw text, else the nearest training answer
                if raw[j][chosen[j]].strip():
                    cs[chosen[j]], fallback[j] = raw[j][chosen[j]].strip(), "raw"
                elif retrieved[j]:
                    cs[chosen[j]], fallback[j] = retrieved[j][0][1], "retrieved"
        out, pos = [], 0
        for q, ps in zip(questions, parts, strict=True):
            recs = []
            for j in range(pos, pos + len(ps)):
                recs.append(
                    {
                        "part": flat[j],
                        "answer": cands[j][chosen[j]],
                        "chosen": chosen[j],
                        "chosen_from": origins[j][chosen[j]],
                        "candidates": cands[j],
                        "scores": scores[j],
                        "context": [q for q, _, _ in retrieved[j][: self.context_k]],
                        "fallback": fallback[j],
                    }
                )
            pos += len(ps)
            answer = " ".join(r["answer"] for r in recs if r["answer"]).strip()
            out.append(Answered(q, answer, recs))
        return out

    def _select(self, flat, cands, retrieved) -> tuple[list[int], list[list[float] | None]]:
        if not self.weights:
            return [0] * len(flat), [None] * len(flat)
        from infer.select import selection_scores

        texts = [c for cs in cands for c in cs]
        refs = [[a for _, a, _ in r[: self.opt.select_k]] for r in retrieved]
        need_q = bool(self.weights.get("question"))
        vecs = self.embedder.encode(
            [t if t.strip() else "." for t in texts]
            + (list(flat) if need_q else [])
            + [a for rs in refs for a in rs]
        )
        cand_vecs, rest = vecs[: len(texts)], vecs[len(texts) :]
        q_vecs = rest[: len(flat)] if need_q else None
        ref_vecs = rest[len(flat) :] if need_q else rest
        chosen, scores, pos, rpos = [], [], 0, 0
        for j, cs in enumerate(cands):
            cv = cand_vecs[pos : pos + len(cs)]
            rv = ref_vecs[rpos : rpos + len(refs[j])]
            qv = q_vecs[j] if q_vecs is not None else None
            pos += len(cs)
            rpos += len(refs[j])
            chosen.append(select(cs, cv, self.weights, question=qv, references=rv))
            scores.append(
                [round(float(s), 4) for s in selection_scores(cv, self.weights, question=qv, references=rv)]
            )
        return chosen, scores


def make_composer(pairs, embedder):
    """The compose answerer fitted on `pairs` (the candidate pool's extractive member)."""
    from infer.compose import ComposeAnswerer

    c = ComposeAnswerer(embedder=embedder)
    c.fit(pairs)
    return c


# --------------------------------------------------------------------------- `dobae infer`


@dataclass
class InferSummary:
    out: Path
    details: Path
    questions: int
    resumed: int
    seconds: float
    new_tokens: int
    backend: str


def run_infer(
    run_dir: Path | str,
    questions_path: Path | str,
    out: Path | str,
    options: InferOptions,
    *,
    pairs_path: Path | str | None = None,
    embedder_spec: str | None = None,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    register: bool = True,
) -> InferSummary:
    """Answer every question of `questions_path` (id, 질문) into `out`; resumable (module docstring).
    A finished job is recorded in `inference_runs` (unless `register=False`)."""
    from db.dacon import read_test

    out = Path(out)
    if out.exists() and not force:
        raise InputError(f"{out} already exists; pass --force to overwrite it or choose another --out")
    tests = read_test(questions_path)
    ids = [t.id for t in tests]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"{questions_path}: question id {dup!r} appears twice")
    generator, card = load_generator(run_dir, options.backend)
    weights = parse_weights(options.select) if options.n > 1 or options.pool else {}
    context_k = run_context_k(card) if options.context_k is None else options.context_k
    retriever = embedder = composer = None
    if weights or context_k:
        from qa.embedders import load_embedder

        embedder = load_embedder(embedder_spec or run_embedder_spec(card))
    if context_k or needs_references(weights) or options.pool:
        src = Path(pairs_path) if pairs_path else Path((card.get("data") or {}).get("path", ""))
        if not src.is_file():
            raise InputError(
                f"retrieval corpus {src} not found: pass --pairs EXPORT.jsonl (the run's training data)"
            )
        pairs = read_export(src).pairs
        if context_k or needs_references(weights):
            retriever = make_retriever(pairs, embedder)
        if options.pool:
            composer = make_composer(pairs, embedder)
    pipe = Pipeline(generator, card, options, retriever=retriever, embedder=embedder, composer=composer)

    out.parent.mkdir(parents=True, exist_ok=True)
    ppath = partial_path(out)
    if force and out.exists():
        out.unlink()
    done = read_partial(ppath)
    resumed = sum(1 for i in ids if i in done)
    todo = sorted((t for t in tests if t.id not in done), key=lambda t: (len(t.question), t.id))
    t0 = time.perf_counter()
    tokens0 = generator.stats.new_tokens
    if on_progress:
        on_progress(resumed, len(tests))
    with ppath.open("a", encoding="utf-8") as fh:
        for c, start in enumerate(range(0, len(todo), options.chunk_size)):
            chunk = todo[start : start + options.chunk_size]
            answered = pipe.answer([t.question for t in chunk], seed_offset=c)
            recs = [
                {"id": t.id, "question": t.question, "answer": a.answer, "parts": a.parts}
                for t, a in zip(chunk, answered, strict=True)
            ]
            append_chunk(fh, recs)
            done.update((r["id"], r) for r in recs)
            if on_progress:
                on_progress(len(done), len(tests))
    empty = [i for i in ids if not done[i]["answer"].strip()]
    details = write_answers(out, tests, done)
    if empty:
        from foundation.console import console, esc

        console.print(
            f"[yellow]warning:[/yellow] {len(empty)} empty answers (e.g. id {esc(empty[0])})", markup=True
        )
    summary = InferSummary(
        out,
        details,
        len(tests),
        resumed,
        time.perf_counter() - t0,
        generator.stats.new_tokens - tokens0,
        generator.backend,
    )
    if register:
        record_inference_run(summary, run_dir, questions_path, options)
    return summary


def record_inference_run(
    summary: InferSummary, run_dir: Path | str, questions_path: Path | str, options: InferOptions
) -> int:
    """One finished `inference_runs` row (linked to the training run registered for `run_dir`, if
    any), for `dobae status` and the report; returns its id."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from db.migrate import ensure_schema
    from db.models import InferenceRun, RunStatus, TrainingRun
    from db.session import session_scope
    from foundation.settings import get_settings

    url = get_settings().db_url
    ensure_schema(url)
    run_dir = Path(run_dir).resolve()
    now = datetime.now(UTC).replace(tzinfo=None)
    with session_scope(url) as db:
        training = db.scalar(
            select(TrainingRun.id)
            .where(TrainingRun.output_dir == str(run_dir))
            .order_by(TrainingRun.id.desc())
        )
        row = InferenceRun(
            training_run_id=training,
            run_dir=str(run_dir),
            questions_path=str(Path(questions_path).resolve()),
            out_path=str(Path(summary.out).resolve()),
            backend=summary.backend,
            config=options.model_dump(),
            n_questions=summary.questions,
            status=RunStatus.finished,
            started_at=now - timedelta(seconds=summary.seconds),
            finished_at=now,
            metrics={
                "seconds": round(summary.seconds, 1),
                "new_tokens": summary.new_tokens,
                "resumed": summary.resumed,
            },
        )
        db.add(row)
        db.flush()
        return row.id
