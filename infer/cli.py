"""`dobae` commands of the infer stage: `score`, `evaluate`, `submit`.

Answerers are chosen with `--answerer NAME` and configured with repeated `-o KEY=VALUE` options
(e.g. `-o k=5 -o compose=top1`); `--run RUN_DIR` is passed as the `run_dir` option (for answerers
built from a training run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from foundation.console import console, esc, out
from foundation.errors import InputError

EMBEDDER_HELP = (
    "auto | distiluse | muse3 | PATH to a sentence-transformers folder (default: settings.embedder)"
)


def parse_options(pairs: list[str] | None, run: Path | None = None) -> dict[str, Any]:
    """`["k=5", "compose=top1"]` → `{"k": 5, "compose": "top1"}` (ints, floats and true/false converted)."""
    from foundation.keyvalue import parse_key_values

    options = parse_key_values(pairs, "-o", "k=5", typed=True)
    if run is not None:
        options["run_dir"] = str(run)
    return options


MAX_SENTENCES_HELP = "compose: at most N sentences a question part (brevity for score; 0 = no cap)"


def with_max_sentences(answerer: str, options: dict[str, Any], max_sentences: int | None) -> dict[str, Any]:
    """`--max-sentences N` is the compose answerer's `max_sentences` option."""
    if max_sentences is None:
        return options
    if answerer != "compose":
        raise InputError(f"--max-sentences is an option of --answerer compose, not {answerer}")
    return {**options, "max_sentences": max_sentences}


def _fmt(x: float) -> str:
    return f"{x:.4f}"


def print_cv_table(result) -> None:
    label = "PROXY " if "muse3" in result.embedder else ""
    t = Table(
        title=f"dobae evaluate — {result.answerer}, {result.folds}-fold CV, {label}metric by {result.embedder}"
    )
    t.add_column("slice")
    t.add_column("questions", justify="right")
    t.add_column("score", justify="right")
    t.add_row(
        Text("all (mean ± sd over folds)", style="bold"),
        str(sum(result.counts.get(k, 0) for k in ("single", "double"))),
        Text(f"{_fmt(result.mean)} ± {_fmt(result.std)}", style="bold"),
    )
    for f, m in enumerate(result.fold_means):
        t.add_row(f"  fold {f}", "", _fmt(m))
    for kind, m in result.by_kind.items():
        t.add_row(kind, str(result.counts.get(kind, 0)), _fmt(m))
    for cat, m in result.by_category.items():
        t.add_row(f"category {cat}", str(result.counts.get(f"cat:{cat}", 0)), _fmt(m))
    out.print(t)
    out.print(
        f"embedder: {result.embedder} — {result.embedder_description}; config: {result.config}; "
        f"data sha256 {result.data_sha256[:12]}…; {result.seconds:.1f} s"
    )


def evaluate_cmd(
    answerer: str = typer.Option(
        None,
        "--answerer",
        "-a",
        help="registered answerer: constant, retrieval, compose, llm; or auto (the best by grouped CV, "
        "cached: what `dobae submit` uses). Default: retrieval; with --add-origin: auto",
    ),
    option: list[str] = typer.Option(None, "--option", "-o", help="answerer option KEY=VALUE (repeatable)"),
    run: Path = typer.Option(
        None, "--run", help="training run folder, for answerers that need one (e.g. llm)"
    ),
    folds: int = typer.Option(5, "--folds", "-k", min=2, help="number of grouped folds"),
    seed: int = typer.Option(None, "--seed", help="fold and question seed (default: settings.seed)"),
    double_ratio: float = typer.Option(
        0.47, "--double-ratio", min=0.0, max=1.0, help="share of double questions (test.csv: 61 of 130)"
    ),
    embedder: str = typer.Option(None, "--embedder", "-e", help=EMBEDDER_HELP),
    source: str = typer.Option(
        None, "--source", help="DACON source to use: dacon or dacon-sample (default: all)"
    ),
    store: bool = typer.Option(True, "--store/--no-store", help="store the result in the evaluations table"),
    add_origin: list[str] = typer.Option(
        None,
        "--add-origin",
        help="ablation: also train each fold on the approved pairs of this source (crawl, augment, docs, "
        "manual; repeatable) and compare with and without it (paired bootstrap)",
    ),
    max_sentences: int = typer.Option(None, "--max-sentences", min=0, help=MAX_SENTENCES_HELP),
) -> None:
    """Cross-validate an answerer on the imported DACON rows (grouped k-fold, test-like single and double
    questions) and print the DACON metric: mean ± spread over folds, single/double, per category.
    The result is stored in the `evaluations` table with the embedder, data sha256 and git commit.
    With `--add-origin`, each source's approved pairs join every fold's training side (never a pair
    built from a held-out row) and the table shows each source's effect with a 95 % interval.

    Example: `dobae evaluate --answerer compose --max-sentences 2`,
    `dobae evaluate --answerer retrieval -o k=3 -o compose=centroid --folds 5`,
    `dobae evaluate --add-origin crawl --add-origin augment --add-origin docs`
    """
    from db.session import require_database
    from foundation.settings import get_settings
    from infer.answerer import make_answerer
    from infer.evaluation.cv import cross_validate, load_items, store_evaluation
    from qa.embedders import load_embedder

    require_database()
    settings = get_settings()
    seed = settings.seed if seed is None else seed
    answerer = answerer or ("auto" if add_origin else "retrieval")
    check_answerer_arguments(answerer, run)  # arguments first: no CV before a typo is refused
    extra = _extra_pairs(add_origin) if add_origin else None
    items = load_items(source=source)
    emb = load_embedder(embedder)
    if answerer == "auto":
        answerer, options = _auto_answerer(items, emb, run, folds, seed)
    else:
        options = with_max_sentences(answerer, parse_options(option, run), max_sentences)
    make_answerer(answerer, embedder=emb, **options)  # fail on bad options before any work
    if add_origin:
        _ablation(answerer, options, emb, items, add_origin, extra, folds, seed, double_ratio, store)
        return
    console.print(f"evaluating {answerer} on {len(items)} DACON rows, {folds} folds, seed {seed}")
    from foundation.console import progress

    with progress() as bar:
        task = bar.add_task("folds", total=folds)
        result = cross_validate(
            items,
            lambda: make_answerer(answerer, embedder=emb, **dict(options)),
            emb,
            k=folds,
            seed=seed,
            double_ratio=double_ratio,
            on_fold=lambda f, m: bar.advance(task),
        )
    print_cv_table(result)
    if store:
        eid = store_evaluation(result)
        console.print(f"stored as evaluation #{eid}")


def _auto_answerer(items, emb, run, folds, seed) -> tuple[str, dict]:
    """The answerer `dobae submit` would choose on these rows (grouped CV, cached in `evaluations`)."""
    from infer.evaluation.auto import auto_choice

    choice = auto_choice(items, emb, run_dir=str(run) if run else None, folds=folds, seed=seed)
    console.print(f"auto chose {choice.reason()}")
    return choice.name, dict(choice.options)


def check_answerer_arguments(answerer: str, run: Path | None) -> None:
    """Refuse an unknown answerer, and a generative one without a training run, before any work."""
    from foundation.errors import InputError
    from infer.answerer import ANSWERERS, _load_builtin_answerers
    from infer.evaluation.auto import GENERATIVE

    _load_builtin_answerers()
    if answerer != "auto" and answerer not in ANSWERERS:
        raise InputError(f"--answerer {answerer!r}: use auto or one of {', '.join(sorted(ANSWERERS))}")
    if answerer in GENERATIVE and run is None:
        raise InputError(
            f"--answerer {answerer} needs --run RUN_DIR (a training run folder, from `dobae train`)"
        )
    if run is not None and not (run / "run_card.json").is_file():
        raise InputError(f"--run {run}: not a training run folder (no run_card.json)")


def _extra_pairs(sources: list[str]):
    """The approved pairs of each `--add-origin` source; an unknown source or one without approved
    pairs is refused before the ablation runs (its row would only repeat the base)."""
    from foundation.errors import InputError
    from infer.evaluation.ablation import load_extra_pairs

    extra = load_extra_pairs(sources)
    empty = [s for s in dict.fromkeys(sources) if not any(e.source == s for e in extra)]
    if empty:
        raise InputError(
            f"--add-origin {empty[0]}: no approved pairs of that source (outside the test split), so it cannot "
            "change the result: approve some first (`dobae review status`, `dobae review approve`) or leave it out"
        )
    return extra


def _ablation(answerer, options, emb, items, sources, extra, folds, seed, double_ratio, store) -> None:
    from foundation.console import progress
    from infer.answerer import make_answerer
    from infer.evaluation.ablation import breakdown, run_ablation
    from infer.evaluation.cv import store_evaluation

    counts = {s: sum(1 for e in extra if e.source == s) for s in dict.fromkeys(sources)}
    console.print(
        f"ablation of {answerer} on {len(items)} DACON rows, {folds} folds, seed {seed}; approved extra pairs: "
        + ", ".join(f"{s} {n}" for s, n in counts.items())
    )
    n_configs = 1 + len(counts) + (len(counts) > 1)
    with progress() as bar:
        task = bar.add_task("configurations", total=n_configs)
        ab = run_ablation(
            items,
            lambda: make_answerer(answerer, embedder=emb, **dict(options)),
            emb,
            extra,
            list(counts),
            k=folds,
            seed=seed,
            double_ratio=double_ratio,
            on_config=lambda name: bar.advance(task),
        )
    label = "PROXY " if "muse3" in emb.name else ""
    t = Table(
        title=f"dobae evaluate — what each source adds ({answerer}, {folds}-fold CV, {label}metric by {emb.name})"
    )
    for col in ("training data", "extra pairs", "mean ± sd over folds", "Δ vs base", "95 % interval"):
        t.add_column(col, justify="left" if col == "training data" else "right")
    for row in ab.rows:
        r = row.result
        delta = "" if row.name == "base" else f"{row.delta:+.4f}"
        ci = "" if row.name == "base" else f"[{row.ci[0]:+.4f}, {row.ci[1]:+.4f}]"
        t.add_row(row.name, str(row.extra_pairs), f"{_fmt(r.mean)} ± {_fmt(r.std)}", delta, ci)
    out.print(t)
    out.print(
        f"{len(ab.rows[0].result.per_question)} questions per configuration (the same in each); extra pairs "
        "built from a held-out row are left out of that fold; interval: paired bootstrap over questions"
    )
    if store:
        ids = [store_evaluation(row.result, extra=breakdown(row, ab)) for row in ab.rows]
        console.print(f"stored as evaluations #{ids[0]}–#{ids[-1]} (ablation {ab.run})")


def score_cmd(
    refs: Path = typer.Option(
        ..., "--refs", help="CSV with id and reference columns (답변_1…, answer…, ref…)"
    ),
    answers: Path = typer.Option(
        ..., "--answers", help="answers.csv (id, answer) or submission.csv (id, vec_0…)"
    ),
    embedder: str = typer.Option(None, "--embedder", "-e", help=EMBEDDER_HELP),
) -> None:
    """Score answers against references with the DACON metric (cosine, negatives count 0, mean over
    questions; several references per question: mean over them).

    Example: `dobae score --refs dev.csv --answers out/answers.csv`
    """
    from qa.embedders import load_embedder
    from qa.scoring import score_files

    emb = load_embedder(embedder)
    result = score_files(refs, answers, emb)
    label = "proxy (mUSE v3)" if getattr(emb, "is_proxy", False) else "DACON metric"
    out.print(
        f"score {result.mean:.6f} over {len(result.per_question)} questions — {label}, embedder {result.embedder}"
    )


def submit_cmd(
    questions: Path = typer.Option(..., "--questions", help="DACON test CSV (id, 질문)"),
    answerer: str = typer.Option(
        "auto",
        "--answerer",
        "-a",
        help="auto (grouped CV of constant, retrieval, compose and the --run LoRA run; the best "
        "answers) or a registered answerer: constant, retrieval, compose, llm",
    ),
    option: list[str] = typer.Option(None, "--option", "-o", help="answerer option KEY=VALUE (repeatable)"),
    run: Path = typer.Option(
        None, "--run", help="training run folder, for answerers that need one (e.g. llm)"
    ),
    out_dir: Path = typer.Option(..., "--out", help="folder for answers.csv and submission.csv"),
    embedder: str = typer.Option(None, "--embedder", "-e", help=EMBEDDER_HELP),
    folds: int = typer.Option(5, "--folds", "-k", min=2, help="grouped CV folds of --answerer auto"),
    max_sentences: int = typer.Option(None, "--max-sentences", min=0, help=MAX_SENTENCES_HELP),
    force: bool = typer.Option(False, "--force", help="overwrite existing files in --out"),
) -> None:
    """Answer the test questions with an answerer fitted on all imported DACON rows and write
    answers.csv (id, 질문, answer), submission.csv (id, vec_0 … vec_511, test order, validated first)
    and answered_by.csv (which answerer, and the score that chose it).

    `--answerer auto` (default) cross-validates the available answerers on the imported rows (results
    cached in the `evaluations` table by data sha256 and config) and submits with the best; a LoRA
    run (`--run`) is used only when its validation metric beats the others, unless named with
    `--answerer llm` (then a warning gives both numbers).

    Example: `dobae submit --questions test.csv --out submissions/auto`
    """
    from db.session import require_database
    from foundation.console import progress
    from infer.submission import make_submission

    require_database()
    check_answerer_arguments(answerer, run)
    options = with_max_sentences(answerer, parse_options(option, run), max_sentences)
    with progress() as bar:
        task = bar.add_task(f"submit: {answerer}", total=None)

        def on_fold(name: str, f: int, mean: float) -> None:
            bar.update(task, description=f"submit: CV of {name}, fold {f + 1} {mean:.4f}")

        s = make_submission(
            questions,
            out_dir,
            answerer,
            options=options,
            embedder_spec=embedder,
            force=force,
            folds=folds,
            on_fold=on_fold,
        )
    if s.measured:
        out.print(f"measured: {s.measured}")
    if s.warning:
        console.print(f"[yellow]warning:[/yellow] {esc(s.warning)}", markup=True)
    out.print(
        f"wrote {s.out_dir / 'submission.csv'} ({s.rows} × 513), answers.csv and answered_by.csv; "
        f"answerer {s.answerer} ({s.selected_by}), embedder {s.embedder} — {s.embedder_description}"
    )
    if s.is_proxy:
        console.print(
            "[yellow]note:[/yellow] vectors come from a stand-in embedder, not distiluse-base-multilingual-"
            "cased-v1; DACON scores submissions in distiluse's space. Re-run with --embedder distiluse "
            "(or a local folder of it) before uploading.",
            markup=True,
        )


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root `dobae` app."""
    app.command("evaluate")(evaluate_cmd)
    app.command("score")(score_cmd)
    app.command("submit")(submit_cmd)
    from infer.generate_cli import infer_cmd

    app.command("infer")(infer_cmd)
