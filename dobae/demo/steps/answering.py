"""The demo's answering steps: batch inference with the LoRA run, the submission from the best
measured answerer, and the source ablation (what each data source adds)."""

from __future__ import annotations

from dobae.demo.steps.context import DemoContext, Outcome, lora_run_dir, questions_csv
from foundation.console import console

# test questions the LoRA run answers on CPU by default (3-9 s each on the shared 2-core CPU)
INFER_LIMIT = 24


def _llm_share(ctx: DemoContext) -> tuple[list, list, str]:
    """(tests the LoRA run answers, tests left to the best extractive answerer, file suffix): the first
    `infer_limit` test questions in file order go to the LLM (0: all of them)."""
    from db.dacon import read_test

    tests = read_test(questions_csv(ctx))
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
    questions = questions_csv(ctx)
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
            lora_run_dir(ctx),
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
    run_dir = lora_run_dir(ctx)
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
