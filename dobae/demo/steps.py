"""The demo's steps: one function per step, each through its stage's Python API, returning its
`Outcome` as data (what happened, and whether it skipped work already done).

Every step first checks the database (the read model, `db.summary`) and the run folders and skips
work that is already done for this input, so a second run reuses the first. The processes a step
needs (sandbox site, crawl, local model server) are started and stopped by `dobae.demo.processes`;
`STEPS` is the order and the dependencies, which `dobae.demo.run` follows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from dobae.demo import processes
from dobae.demo.processes import ROOT
from foundation.console import console
from foundation.errors import DobaeError
from foundation.settings import Settings


@dataclass(frozen=True)
class Outcome:
    """What a step did: one line for the summary, and whether it skipped work already done."""

    detail: str
    skipped: bool = False


@dataclass
class DemoContext:
    settings: Settings
    train_csv: Path | None
    test_csv: Path | None
    work: Path
    base_url: str | None = None  # a site to crawl; None: the crawl step starts the sandbox site
    state: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.settings.db_url

    @cached_property
    def out(self) -> Path:
        """This input's outputs (export, run, answers, submission): `work/sample` for the shipped
        sample, else `work/dacon-<sha256 of the files>`, so other files never reuse stale outputs."""
        if not (self.train_csv or self.test_csv):
            return self.work / "sample"
        h = hashlib.sha256()
        for p in (self.train_csv, self.test_csv):
            h.update(Path(p).read_bytes() if p else b"-")
            h.update(b"\0")
        return self.work / f"dacon-{h.hexdigest()[:10]}"

    @property
    def source(self) -> str:
        """The DACON-format source the import step wrote (db.dacon)."""
        from db.dacon import SAMPLE_SOURCE, SOURCE

        return SOURCE if self.train_csv else SAMPLE_SOURCE


def _crawl_done(ctx: DemoContext) -> int | None:
    from db.session import session_scope
    from db.summary import finished_crawl

    with session_scope(ctx.url) as s:
        return finished_crawl(s, "ohouse")


def step_crawl(ctx: DemoContext) -> Outcome:
    """Crawl `ctx.base_url`, or the sandbox site started for this step (stopped after it)."""
    done = _crawl_done(ctx)
    if done:
        return Outcome(f"skip: crawl run #{done} (ohouse) already finished", skipped=True)
    if ctx.base_url:
        return _crawl(ctx, ctx.base_url)
    with processes.sandbox_site(ctx.work / "sandbox.log") as base:
        console.print(f"  sandbox site at {base}")
        return _crawl(ctx, base)


def _crawl(ctx: DemoContext, base_url: str) -> Outcome:
    cmd = [processes.scrapy_command(), "crawl", "ohouse", "-a", f"base_url={base_url}",
           "-s", f"DOBAE_DATABASE_URL={ctx.url}", "-s", "LOG_LEVEL=INFO", "-s", "LOGSTATS_INTERVAL=1",
           "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_DELAY=0"]  # fmt: skip
    log = ctx.work / "crawl.log"
    console.print("  $ " + " ".join(cmd[:4]) + f" …  (log: {log})", markup=False)
    returncode = processes.run_crawl(cmd, log)
    if returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip()[-800:]
        raise DobaeError(f"scrapy crawl ohouse exited with {returncode}; log {log} ends: {tail}")
    from db.session import session_scope
    from db.summary import crawl_runs, pair_counts, question_counts

    with session_scope(ctx.url) as s:
        run = next(iter(crawl_runs(s, 1, spider="ohouse")), None)
        questions = sum(q.count for q in question_counts(s) if q.split == "crawled")
        p = sum(c.count for c in pair_counts(s) if c.origin == "crawl")
    st = run.stats if run else {}
    failed = st.get("ohouse/question_failed", 0)
    return Outcome(
        f"crawled: run #{run.id if run else '?'} {run.status if run else '?'}: "
        f"{st.get('response_received_count', 0)} pages, {st.get('item_scraped_count', 0)} questions scraped "
        f"({st.get('db/questions_inserted', 0)} new, {st.get('db/questions_deleted', 0)} marked deleted"
        + (f", {failed} failed after retries" if failed else "")
        + f"), {st.get('retry/count', 0)} retries; now {questions} crawled questions, "
        f"{p} crawl pairs in the database"
    )


def step_import(ctx: DemoContext) -> Outcome:
    from db import dacon

    if ctx.train_csv or ctx.test_csv:
        s = dacon.import_dacon(ctx.train_csv, ctx.test_csv, url=ctx.url)
    else:
        s = dacon.import_sample(url=ctx.url)
    fields = {k: v for k, v in vars(s).items() if isinstance(v, int | float) and not isinstance(v, bool)}
    added = sum(v for k, v in fields.items() if k.endswith("added"))
    what = ", ".join(f"{k} {v}" for k, v in fields.items() if k != "seconds")
    return Outcome(
        ("skip: already imported (" if not added else "imported (") + f"source {s.source}: {what})",
        skipped=not added,
    )


def _test_csv(ctx: DemoContext) -> Path:
    if ctx.test_csv:
        return ctx.test_csv
    from db.dacon import SAMPLE_TEST

    return Path(SAMPLE_TEST)


def _llm_model_dir(ctx: DemoContext) -> Path:
    """The prepared Gemma folder: made once; `prepare` also completes a folder prepared by an older
    version (adds the chat template the local server needs) without converting again."""
    from train import models

    if not (models.prepared_path("gemma3-270m") / "config.json").exists():
        console.print("  preparing gemma3-270m offline (once) …")
    return models.prepare("gemma3-270m", log=lambda m: console.print("  " + m, markup=False))


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
    model = _llm_model_dir(ctx)
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
    from augment import documents, runner
    from augment import operations as ops
    from db.session import session_scope
    from db.summary import generations, grounded_reviews

    added = documents.add_documents(
        documents.reference_sources(), note="reference set written for the dobae project", url=ctx.url
    )
    parts = [f"reference set: {len(added.added)} added, {len(added.unchanged)} unchanged"]
    with session_scope(ctx.url) as s:
        done = generations(s, "from-docs")
    if done >= DOCS_CHUNKS:
        parts.append(f"from-docs: skip (done, {done} chunks)")
    else:
        model = _llm_model_dir(ctx)
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


def step_export(ctx: DemoContext) -> Outcome:
    from db import export
    from db.session import session_scope
    from db.summary import latest_export

    out = ctx.out / "approved.jsonl"
    with session_scope(ctx.url) as s:
        rec = latest_export(s, str(out.resolve()))
    if out.is_file() and rec and export.sha256_file(out) == rec.sha256:
        ctx.state["export"] = out
        return Outcome(
            f"skip: {out} already exported ({rec.rows} approved pairs, sha256 {rec.sha256[:12]})",
            skipped=True,
        )
    res = export.export_pairs(out, "jsonl", statuses=["approved"], url=ctx.url)
    ctx.state["export"] = out
    return Outcome(f"exported {res.rows} approved pairs to {out} (sha256 {res.sha256[:12]})")


def _run_dir(ctx: DemoContext) -> Path:
    return ctx.out / "runs" / "demo"


def step_train(ctx: DemoContext) -> Outcome:
    from train import config, trainer

    run_dir = _run_dir(ctx)
    card = run_dir / "run_card.json"
    if card.exists():
        import json

        c = json.loads(card.read_text(encoding="utf-8"))
        if c.get("status") == "finished":
            return Outcome(
                f"skip: {run_dir} already trained (train_loss {c.get('metrics', {}).get('train_loss')})",
                skipped=True,
            )
    _llm_model_dir(ctx)
    cfg = config.load_config(
        ROOT / "train/configs/cpu-smoke.toml",
        [
            f"data.export={ctx.out / 'approved.jsonl'}",
            f"output.dir={run_dir.parent}",
            "output.name=demo",
            f"train.max_steps={ctx.state.get('train_steps', 12)}",
        ],
    )
    res = trainer.run_training(cfg, resume=(run_dir / "checkpoints").is_dir())
    m = res.card.get("metrics", {})
    return Outcome(
        "trained "
        + ", ".join(
            f"{k} {m[k]:.4f}"
            for k in ("train_loss", "eval_loss", "metric")
            if isinstance(m.get(k), int | float)
        )
        + f" → {res.run_dir}"
    )


# test questions the LoRA run answers on CPU by default (3-9 s each on the shared 2-core CPU)
INFER_LIMIT = 24


def _llm_share(ctx: DemoContext) -> tuple[list, list, str]:
    """(tests the LoRA run answers, tests left to the best extractive answerer, file suffix): the first
    `infer_limit` test questions in file order go to the LLM (0: all of them)."""
    from db.dacon import read_test

    tests = read_test(_test_csv(ctx))
    limit = ctx.state.get("infer_limit", INFER_LIMIT)
    if not limit or limit >= len(tests):
        return tests, [], ""
    return tests[:limit], tests[limit:], f"-llm{limit}of{len(tests)}"


def step_infer(ctx: DemoContext) -> Outcome:
    from infer import generate as gen

    llm, rest, suffix = _llm_share(ctx)
    out = ctx.out / f"answers{suffix}.csv"
    if out.exists():
        return Outcome(f"skip: {out} already written", skipped=True)
    questions = _test_csv(ctx)
    if rest:
        import csv

        questions = ctx.out / f"test{suffix}.csv"
        with open(questions, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "질문"])
            w.writerows([t.id, t.question] for t in llm)
        console.print(
            f"  the LoRA run answers the first {len(llm)} of {len(llm) + len(rest)} test questions "
            f"(--infer-limit {len(llm)}; 0 answers all, 3-9 s each on a 2-core CPU); the submit step answers "
            f"the other {len(rest)} with the best measured extractive answerer",
            markup=False,
        )
    opts = gen.InferOptions(max_new_tokens=64, n=1, batch_size=8)
    from foundation.console import progress

    with progress() as bar:
        task = bar.add_task("infer: answering test questions", total=None)
        s = gen.run_infer(
            _run_dir(ctx),
            questions,
            out,
            opts,
            pairs_path=ctx.out / "approved.jsonl",
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    return Outcome(
        f"answered {s.questions} test questions with the LoRA run → {out} "
        f"({s.resumed} resumed, {s.new_tokens} new tokens, {s.seconds:.0f} s, backend {s.backend})"
        + (f"; {len(rest)} left to the best measured extractive answerer" if rest else "")
    )


def step_submit(ctx: DemoContext) -> Outcome:
    """submission.csv from the best measured answerer (`infer.evaluation.auto`): grouped CV of constant,
    retrieval and compose on this input's rows (stored in `evaluations`, reused on re-runs) against
    the LoRA run's held-out validation metric (its card). The LoRA run's answers (infer step) are
    submitted only when it measures best; answered_by.csv and the summary say which answerer and
    which score chose it."""
    from infer import submission as sub
    from infer.answerer import make_answerer
    from infer.evaluation import auto, cv
    from qa import embedders

    llm, rest, suffix = _llm_share(ctx)
    out_dir = ctx.out / f"submission{suffix}"
    if (out_dir / sub.SUBMISSION_FILE).exists():
        return Outcome(
            f"skip: {out_dir / sub.SUBMISSION_FILE} already written (see answered_by.csv)", skipped=True
        )
    items = cv.load_items(ctx.url, source=ctx.source)
    emb = embedders.load_embedder(ctx.settings.embedder)
    run_dir = _run_dir(ctx)
    from foundation.console import progress

    with progress() as bar:
        task = bar.add_task("submit: measuring the answerers", total=None)
        choice = auto.auto_choice(
            items,
            emb,
            run_dir=run_dir if (run_dir / "run_card.json").is_file() else None,
            seed=ctx.settings.seed,
            url=ctx.url,
            on_fold=lambda name, f, m: bar.update(task, description=f"submit: CV of {name}, fold {f + 1}"),
        )
    tests = llm + rest
    ids = [t.id for t in tests]
    best_other = max(
        (m for m in choice.measured if m.name != "llm" and m.mean is not None), key=lambda m: m.mean
    )
    answers: dict[str, str] = {}
    by: dict[str, tuple[str, str]] = {}
    if choice.name == "llm":
        import pandas as pd

        df = pd.read_csv(
            ctx.out / f"answers{suffix}.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
        for i, a in zip(df["id"], df["answer"], strict=True):
            answers[i], by[i] = a, ("llm", choice.reason())
        fill = [t for t in tests if t.id not in answers]
    else:
        fill = tests
    if fill:
        fallback = (
            best_other if choice.name == "llm" else next(m for m in choice.measured if m.name == choice.name)
        )
        answerer = make_answerer(fallback.name, embedder=emb, **fallback.options)
        answerer.fit(cv.train_pairs(items))
        why = f"{fallback.name}: {fallback.mean:.4f} by {fallback.how}"
        for t, a in zip(fill, answerer.answer([t.question for t in fill]), strict=True):
            answers[t.id], by[t.id] = a, (fallback.name, why)
    texts = [answers[i] for i in ids]
    sub.write_submission(out_dir, ids, [t.question for t in tests], texts, emb.encode(texts))
    sub.check_submission_file(out_dir / sub.SUBMISSION_FILE, ids)
    sub.write_answered_by(out_dir, ids, [by[i][0] for i in ids], [by[i][1] for i in ids])
    counts = {
        name: sum(1 for i in ids if by[i][0] == name) for name in dict.fromkeys(b[0] for b in by.values())
    }
    parts = [
        f"submission {out_dir / sub.SUBMISSION_FILE} ({len(ids)} rows embedded with {emb.name}; "
        + ", ".join(f"{n} answered by {name}" for name, n in counts.items())
        + "; see answered_by.csv)",
        f"chosen: {choice.reason()}",
        f"measured: {choice.table()}",
    ]
    llm_m = next((m for m in choice.measured if m.name == "llm"), None)
    if llm_m is not None and choice.name != "llm":
        got = "unmeasured" if llm_m.mean is None else f"{llm_m.mean:.4f}"
        parts.append(
            f"the LoRA run's answers ({ctx.out / f'answers{suffix}.csv'}) are not submitted: its validation "
            f"metric {got} is below {best_other.name} {best_other.mean:.4f}"
        )
    return Outcome("; ".join(parts))


def step_ablate(ctx: DemoContext) -> Outcome:
    """What each data source adds: the best measured extractive answerer (`infer.evaluation.auto`, cached) under
    grouped CV on this input's rows, with the approved crawl, augment and docs pairs added to each
    fold's training side (never a pair built from a held-out row); stored in `evaluations`, where
    `dobae report` reads its table and plot."""
    from infer.answerer import make_answerer
    from infer.evaluation import ablation as abl
    from infer.evaluation import auto, cv
    from qa import embedders

    marker = ctx.out / "ablation.txt"
    if marker.exists():
        return Outcome(f"skip: done ({marker.read_text(encoding='utf-8').strip()})", skipped=True)
    items = cv.load_items(ctx.url, source=ctx.source)
    emb = embedders.load_embedder(ctx.settings.embedder)
    choice = auto.auto_choice(items, emb, seed=ctx.settings.seed, url=ctx.url)
    sources = ["crawl", "augment", "docs"]
    extra = abl.load_extra_pairs(sources, url=ctx.url)
    sources = [s for s in sources if any(e.source == s for e in extra)]
    if not sources:
        return Outcome("skip: no approved crawl, augment or docs pairs to add", skipped=True)
    k = auto.cv_folds(len(items))
    ab = abl.run_ablation(
        items,
        lambda: make_answerer(choice.name, embedder=emb, **dict(choice.options)),
        emb,
        extra,
        sources,
        k=k,
        seed=ctx.settings.seed,
    )
    for row in ab.rows:
        cv.store_evaluation(row.result, extra=abl.breakdown(row, ab), url=ctx.url)
    summary = f"{choice.name}, {k} folds: " + ", ".join(
        f"base {row.result.mean:.4f}" if row.name == "base" else f"{row.name} {row.delta:+.4f}"
        for row in ab.rows
    )
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(summary + "\n", encoding="utf-8")
    return Outcome(summary + " (`dobae report`: Data sources)")


STEPS: list[tuple[str, Callable[[DemoContext], Outcome], tuple[str, ...]]] = [
    ("crawl", step_crawl, ()),
    ("import", step_import, ()),
    ("curate", step_curate, ("crawl",)),
    ("augment", step_augment, ("import",)),
    ("docs", step_docs, ()),
    ("review", step_review, ("augment",)),
    ("export", step_export, ("import",)),
    ("train", step_train, ("export",)),
    ("infer", step_infer, ("train",)),
    ("submit", step_submit, ("train",)),
    ("ablate", step_ablate, ("import",)),
]
