"""The demo's augmentation steps: augment (compound split, paraphrases by the local model), curate
the crawl, Q&A grounded on the reference set (docs), and the review summary."""

from __future__ import annotations

from dobae.demo import processes
from dobae.demo.steps.context import DemoContext, Outcome, llm_model_dir
from foundation.console import console


def _augment_selection(ctx: DemoContext, limit: int):
    """This input's pairs (its source by name): a job's state belongs to its input, so the
    competition files are augmented even after a run on the shipped sample."""
    from augment import operations as ops

    return ops.Selection(source="dacon", source_name=ctx.source, limit=limit)


def _augment_done(ctx: DemoContext, selection) -> set[str]:
    """The operations already finished on exactly this selection (this input's pairs)."""
    from db.session import session_scope
    from db.summary import finished_operations

    with session_scope(ctx.url) as s:
        return finished_operations(s, selection.params())


def step_augment(ctx: DemoContext) -> Outcome:
    from augment import runner

    limit = ctx.state.get("augment_limit", 2)
    selection = _augment_selection(ctx, limit)
    plan = [("compound", False), ("paraphrase-questions", True)]
    parts = []
    ran = False  # whether any operation ran (all skipped: the step is skipped)
    finished = _augment_done(ctx, selection)
    todo_llm = [n for n, llm in plan if llm and n not in finished]
    for name, llm in plan:
        if not llm and name in finished:
            parts.append(f"{name}: skip (done for {ctx.source})")
        elif not llm:
            summ = runner.run_operation(name, selection, url=ctx.url, progress=True)
            parts.append(f"{name}: {dict(summ.statuses)}")
            ran = True
    if not todo_llm:
        parts.append(f"paraphrase-questions: skip (done for {ctx.source})")
        return Outcome(("" if ran else "skip: ") + "; ".join(parts), skipped=not ran)
    model = llm_model_dir(ctx)
    console.print(f"  starting a local OpenAI-compatible server (transformers serve {model.name}) …")
    log = ctx.work / "llm-server.log"
    with processes.local_llm(
        ctx.settings, model, log, max_tokens=256, concurrency=2, timeout_s=300
    ) as settings:
        for name in todo_llm:
            summ = runner.run_operation(
                name,
                selection,
                url=ctx.url,
                settings=settings,
                progress=True,
            )
            parts.append(
                f"{name}: {summ.calls} calls, {summ.cache_hits} cached, {dict(summ.statuses)}"
                + (
                    f", {summ.errors} failed {dict(summ.failures)} (re-run retries them)"
                    if summ.errors
                    else ""
                )
            )
    return Outcome("; ".join(parts))


def step_curate(ctx: DemoContext) -> Outcome:
    """Flag every crawled pair with reasons (and signals), then approve the unflagged ones in one
    logged step, as `dobae augment curate` + `dobae review approve --origin crawl --no-flags` do."""
    from augment import curation
    from db.review import approve_unflagged

    s = curation.curate_crawl(ctx.url, ctx.settings)
    flags = ", ".join(f"{k} {n}" for k, n in s.reasons.most_common()) or "none"
    ok = approve_unflagged("crawl", reviewer="demo", url=ctx.url)
    return Outcome(
        f"{s.crawled} crawled pairs, {s.judged} judged ({s.changed} verdicts changed), {s.clean} without a flag; "
        f"flags and signals: {flags}; approved {ok.approved} unflagged pairs (reviewer 'demo'), "
        f"{ok.flagged} flagged wait for a person in review_queue"
    )


DOCS_CHUNKS = 8  # chunks of the reference set the demo generates from (≈10-15 s each on a shared CPU)


def step_docs(ctx: DemoContext) -> Outcome:
    """Add the shipped reference set and generate Q&A grounded on its chunks with the local model."""
    from augment import operations as ops
    from augment import runner
    from augment.documents import add_documents
    from augment.reference_set import reference_sources
    from db.session import session_scope
    from db.summary import generations, grounded_reviews

    added = add_documents(
        reference_sources(), note="reference set written for the dobae project", url=ctx.url
    )
    parts = [f"reference set: {len(added.added)} added, {len(added.unchanged)} unchanged"]
    with session_scope(ctx.url) as s:
        done = generations(s, "from-docs")
    if done >= DOCS_CHUNKS:
        parts.append(f"from-docs: skip (done, {done} chunks)")
    else:
        model = llm_model_dir(ctx)
        log = ctx.work / "llm-server.log"
        with processes.local_llm(ctx.settings, model, log, concurrency=2, timeout_s=300) as settings:
            summ = runner.run_operation(
                "from-docs", ops.Selection(limit=DOCS_CHUNKS), url=ctx.url, settings=settings, progress=True
            )
        parts.append(f"from-docs: {summ.calls} calls, {summ.cache_hits} cached, {dict(summ.statuses)}")
    with session_scope(ctx.url) as s:
        rows = grounded_reviews(s)
    rejected = [r.reasons for r in rows if r.status == "rejected"]
    unexplained = sum(1 for r in rejected if not r)
    reasons: dict[str, int] = {}
    for r in rejected:
        for x in r:
            reasons[x] = reasons.get(x, 0) + 1
    parts.append(
        f"{len(rows)} grounded pairs, {len(rejected)} rejected"
        + (
            f" ({', '.join(f'{k} {n}' for k, n in sorted(reasons.items(), key=lambda kv: -kv[1]))})"
            if reasons
            else ""
        )
        + (
            f"; {unexplained} rejected WITHOUT a reason"
            if unexplained
            else "; every rejected pair has its reason"
        )
    )
    return Outcome("; ".join(parts))


def step_review(ctx: DemoContext) -> Outcome:
    """A read-only summary: pairs by origin and review status, and the machine gates' reasons."""
    from augment import jobs
    from db.session import session_scope
    from db.summary import pair_counts

    with session_scope(ctx.url) as s:
        rows = pair_counts(s)
    by_origin: dict[str, list[str]] = {}
    for r in rows:
        by_origin.setdefault(r.origin, []).append(f"{r.status} {r.count}")
    reasons = jobs.reasons_histogram(ctx.url)
    pending = sum(r.count for r in rows if r.status in ("pending", "needs_review"))
    return Outcome(
        "pairs by origin and review status: "
        + "; ".join(f"{o} {', '.join(v)}" for o, v in by_origin.items())
        + ". Machine reasons on augmented pairs: "
        + (", ".join(f"{k} {n}" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1])) or "none")
        + ". "
        + (f"{pending} pairs wait for a human (only approved pairs are exported): " if pending else "")
        + "the review_queue view, or `dobae export --status pending` → edit → `dobae review import`"
    )
