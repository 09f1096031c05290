"""`dobae augment …`: LLM augmentation with review flags. Library first: each command parses its
flags and calls one function of `augment.operations`, `augment.runner`, `augment.batch`, `augment.jobs` or
`augment.server`."""

from __future__ import annotations

from pathlib import Path

import typer

from foundation.console import console, esc, out

augment_app = typer.Typer(
    help="Augment pairs through any OpenAI-compatible server (cached, resumable, gated into the review queue)."
    "\n\nExample: `dobae augment paraphrase-questions --source dacon --limit 20`",
    no_args_is_help=True,
)

SourceOpt = typer.Option(
    None, "--source", help="origin (crawl, dacon, manual) or source name; default: all but augment"
)
CategoryOpt = typer.Option(None, "--category", help="only pairs of this category, e.g. 마감하자")
StatusOpt = typer.Option(
    None, "--status", help="only input pairs with this review status (pending, approved, …)"
)
LimitOpt = typer.Option(None, "--limit", min=1, help="at most this many input pairs")


def _selection(source, category, status, limit, keywords=None):
    from augment.operations import Selection

    return Selection(source=source, category=category, status=status, limit=limit, keywords=keywords or None)


def _run(name: str, sel) -> None:
    from augment.runner import run_operation

    summary = run_operation(name, sel, progress=True)
    _print_summary(summary)


def _print_summary(summary) -> None:
    from rich.table import Table

    t = Table(title=f"augment {summary.operation} (job {summary.job_id})", show_header=False)
    t.add_row(
        "items", f"{summary.total} ({summary.already_done} already done, {summary.processed} processed now)"
    )
    t.add_row("LLM calls", f"{summary.calls} (cache hits {summary.cache_hits})")
    t.add_row("tokens", f"{summary.tokens_in} in / {summary.tokens_out} out")
    t.add_row("results", ", ".join(f"{k} {v}" for k, v in sorted(summary.statuses.items())) or "-")
    t.add_row("review reasons", ", ".join(f"{k} {v}" for k, v in summary.reasons.most_common()) or "-")
    t.add_row("failures", ", ".join(f"{k} {v}" for k, v in summary.failures.most_common()) or "-")
    console.print(t)
    if summary.all_failed:
        from foundation.errors import DobaeError

        raise DobaeError(
            f"augment {summary.operation}: all {summary.errors} item(s) failed "
            f"({', '.join(f'{k} {v}' for k, v in summary.failures.most_common())}), job {summary.job_id} "
            f"is failed. First: {summary.first_error}. Fix that, then run the same command again"
        )
    if summary.errors:
        console.print(
            f"[yellow]{summary.errors:d} item(s) failed; run the same command again to retry them[/yellow]",
            markup=True,
        )


@augment_app.command("paraphrase-questions")
def paraphrase_questions(
    source: str = SourceOpt, category: str = CategoryOpt, status: str = StatusOpt, limit: int = LimitOpt
) -> None:
    """Rewrite each question in a formal and a colloquial register (like 질문_1 / 질문_2).

    Example: `dobae augment paraphrase-questions --source dacon --limit 20`
    """
    _run("paraphrase-questions", _selection(source, category, status, limit))


@augment_app.command("paraphrase-answers")
def paraphrase_answers(
    source: str = SourceOpt, category: str = CategoryOpt, status: str = StatusOpt, limit: int = LimitOpt
) -> None:
    """Rewrite each answer keeping every fact (like 답변_1 … 답변_5).

    Example: `dobae augment paraphrase-answers --category 마감하자 --limit 10`
    """
    _run("paraphrase-answers", _selection(source, category, status, limit))


@augment_app.command("keywords")
def keywords(
    source: str = SourceOpt, category: str = CategoryOpt, status: str = StatusOpt, limit: int = LimitOpt
) -> None:
    """Extract domain keywords per pair into the keywords / pair_keywords tables.

    Example: `dobae augment keywords --limit 50`
    """
    _run("keywords", _selection(source, category, status, limit))


@augment_app.command("seeded")
def seeded(
    keyword: list[str] = typer.Option(
        None, "--keyword", "-k", help="glossary term(s); default: augment/glossary.txt"
    ),
    source: str = SourceOpt,
    category: str = CategoryOpt,
    status: str = StatusOpt,
    limit: int = typer.Option(None, "--limit", min=1, help="at most this many keywords"),
) -> None:
    """New pairs from glossary keywords, grounded on retrieved existing pairs (never copied).

    Example: `dobae augment seeded -k 곰팡이 -k 걸레받이`
    """
    _run("seeded", _selection(source, category, status, limit, keyword))


@augment_app.command("compound")
def compound(
    source: str = SourceOpt, category: str = CategoryOpt, status: str = StatusOpt, limit: int = LimitOpt
) -> None:
    """Join two pairs' questions with 또한, / 그리고 and concatenate their answers (no LLM).

    Example: `dobae augment compound --limit 100`
    """
    _run("compound", _selection(source, category, status, limit))


@augment_app.command("from-docs")
def from_docs(
    document: int = typer.Option(
        None, "--document", help="only this document's chunks (id from `dobae docs list`)"
    ),
    limit: int = typer.Option(None, "--limit", min=1, help="at most this many chunks"),
) -> None:
    """Q&A pairs grounded on one document chunk each (add documents first with `dobae docs add`); every
    pair links to its chunk and the groundedness gate checks each answer sentence against it.

    Example: `dobae docs add --reference && dobae augment from-docs --limit 10`
    """
    from augment.operations import Selection

    _run("from-docs", Selection(document=document, limit=limit))


@augment_app.command("curate")
def curate(
    dry_run: bool = typer.Option(False, "--dry-run", help="judge and count; write nothing"),
) -> None:
    """Flag every crawled pair before a person sees it (not an answer, contact details, advertising,
    prompt injection, off-domain, too short/long, near-duplicate, the asker's own answer) and note
    positive signals (+adopted, +expert, +liked); the reasons show in `review_queue`. A person's
    verdict is kept while the pair's text is the one they judged; a changed text is judged again.

    Example: `dobae augment curate && dobae review approve --origin crawl --no-flags --dry-run`
    """
    from rich.table import Table

    from augment.curation import curate_crawl
    from db.session import require_database

    s = curate_crawl(require_database(), dry_run=dry_run)  # nothing to curate where no database is
    t = Table(title="crawl curation" + (" (dry run: nothing written)" if dry_run else ""), show_header=False)
    t.add_row(
        "crawled pairs", f"{s.crawled} ({s.judged} judged, {s.kept_person} already decided by a person)"
    )
    t.add_row("clean (no flag)", str(s.clean))
    t.add_row("changed verdicts", str(s.changed))
    t.add_row("results", ", ".join(f"{k} {v}" for k, v in sorted(s.statuses.items())) or "-")
    t.add_row("flags and signals", ", ".join(f"{k} {v}" for k, v in s.reasons.most_common()) or "-")
    console.print(t)


def _jobs_cell(r) -> str:
    """'3' or '3 (1 running, 1 interrupted)'."""
    parts = [f"{n} {what}" for n, what in ((r.running, "running"), (r.interrupted, "interrupted")) if n]
    return f"{r.jobs} ({', '.join(parts)})" if parts else str(r.jobs)


@augment_app.command("status")
def status() -> None:
    """Progress, tokens, errors and review results per operation.

    Example: `dobae augment status`
    """
    from rich.table import Table

    from augment.jobs import reasons_histogram, status_report
    from db.session import require_database

    require_database()
    rows = status_report()
    if not rows:
        console.print(
            "no augmentation job yet; start one with `dobae augment paraphrase-questions --limit 10`"
        )
        return
    t = Table(title="augmentation")
    t.add_column("operation", no_wrap=True)
    # fits 80 columns (a log, no terminal): figures wrap at spaces, never cut to "…"
    for col, width in (("jobs", 4), ("done", 5), ("tokens in/out", 6), ("errors", 12)):
        t.add_column(col, overflow="fold", min_width=width)
    t.add_column("pairs by review status", overflow="fold", min_width=11)
    for r in rows:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(r.failures.items())) or "0"
        pairs = ", ".join(f"{k} {v}" for k, v in sorted(r.pairs.items())) or "-"
        t.add_row(
            r.operation,
            _jobs_cell(r),
            f"{r.done}/{r.total}",
            f"{r.tokens_in}/{r.tokens_out}",
            errors,
            pairs,
        )
    out.print(t)
    hist = reasons_histogram()
    if hist:
        out.print(
            "review reasons: " + ", ".join(f"{k} {v}" for k, v in sorted(hist.items(), key=lambda kv: -kv[1]))
        )


@augment_app.command("batch-write")
def batch_write(
    operation: str = typer.Argument(..., help="paraphrase-questions, paraphrase-answers, keywords or seeded"),
    out_path: Path = typer.Option(..., "--out", "-o", help="the Batch API input JSONL to write"),
    keyword: list[str] = typer.Option(None, "--keyword", "-k", help="seeded: glossary term(s)"),
    source: str = SourceOpt,
    category: str = CategoryOpt,
    status: str = StatusOpt,
    limit: int = LimitOpt,
    force: bool = typer.Option(False, "--force", help="overwrite an existing --out file"),
) -> None:
    """Write an operation's requests as an OpenAI Batch API file (custom_id = cache key).

    Example: `DOBAE_LLM__MODEL=gpt-4o-mini dobae augment batch-write paraphrase-questions -o batch.jsonl`
    """
    from augment.batch import write_batch
    from db.session import require_database
    from foundation.outfile import check_out_file

    check_out_file(out_path, force, example="batch.jsonl")
    require_database()
    n = write_batch(operation, _selection(source, category, status, limit, keyword), out_path)
    console.print(
        f"wrote {n} request(s) to {out_path}; submit it, then `dobae augment batch-read RESULTS.jsonl`"
    )


@augment_app.command("batch-read")
def batch_read(path: Path = typer.Argument(..., help="the Batch API output JSONL")) -> None:
    """Store Batch API results in the cache and run their operations from it (same gates).

    Example: `dobae augment batch-read batch_output.jsonl`
    """
    from augment.batch import read_batch

    res = read_batch(path)
    console.print(f"stored {res.stored} result(s), {res.already} already stored")
    if res.failed:
        console.print("failed in the batch: " + ", ".join(f"{k} {v}" for k, v in res.failed.most_common()))
    if res.unknown:
        console.print(
            f"[yellow]{len(res.unknown)} unknown custom_id(s), e.g. {esc(res.unknown[0])}[/yellow]",
            markup=True,
        )
    for summary in res.jobs:
        _print_summary(summary)


@augment_app.command("serve")
def serve(
    model: Path = typer.Option(..., "--model", "-m", help="a transformers model folder"),
    port: int = typer.Option(8011, "--port", help="port on 127.0.0.1"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda:0, auto"),
) -> None:
    """Run a local OpenAI-compatible server (`transformers serve`) until Ctrl-C.

    Example: `dobae augment serve --model data/cache/gemma-3-270m-hf --port 8011`
    """
    import signal
    import time

    from augment.server import local_server

    def _stop(signum, frame):  # SIGTERM (and SIGINT where a shell ignores it) stop the server cleanly
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)

    with local_server(model, port=port, device=device) as srv:
        console.print(
            f"serving {srv.model} at {srv.base_url} (log {srv.log_path}); requests must use that model name"
        )
        console.print(
            f"use it: DOBAE_LLM__BASE_URL={srv.base_url} DOBAE_LLM__MODEL={srv.model} dobae augment …"
        )
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            console.print("stopping")


docs_app = typer.Typer(
    help="Reference documents (PDF, HTML, Markdown, text) for grounded Q&A generation.\n\n"
    "Example: `dobae docs add guide.pdf && dobae docs list`",
    no_args_is_help=True,
)


@docs_app.command("add")
def docs_add(
    sources: list[str] = typer.Argument(
        None, help="files or http(s) URLs: .pdf, .html, .md, .txt", show_default=False
    ),
    reference: bool = typer.Option(
        False, "--reference", help="add the reference set shipped with the project"
    ),
    note: str = typer.Option(None, "--note", help="where the documents come from (stored with each)"),
) -> None:
    """Add documents: text extracted, split into Korean sentences (Kiwi) and overlapping chunks with
    character offsets and pages. Re-adding an unchanged file adds nothing.

    Example: `dobae docs add guide.pdf https://example.org/wallpaper.html notes.md`
    """
    from augment.documents import add_documents
    from augment.reference_set import reference_sources

    todo = [*(sources or [])]
    if reference:
        todo += [str(p) for p in reference_sources()]
        note = note or "reference set written for the dobae project"
    if not todo:
        from foundation.errors import InputError

        raise InputError("name files or URLs to add, or --reference for the shipped reference set")
    res = add_documents(todo, note=note)
    replaced = dict(res.replaced)
    for src, doc_id, n in res.added:
        was = f", replacing document #{replaced[src]} (its earlier version)" if src in replaced else ""
        console.print(f"added document #{doc_id}: {src} ({n} chunks){was}", soft_wrap=True)
    for src, doc_id in res.unchanged:
        console.print(f"unchanged: {src} (document #{doc_id})", soft_wrap=True)
    for warning in res.warnings:
        console.print(f"[yellow]warning:[/yellow] {esc(warning)}", markup=True, soft_wrap=True)


@docs_app.command("remove")
def docs_remove(
    document_id: int = typer.Argument(..., help="the document's id (`dobae docs list`)", show_default=False),
    detach_pairs: bool = typer.Option(
        False, "--detach-pairs", help="also when generated pairs are grounded on it: they stay, unlinked"
    ),
) -> None:
    """Remove a document and its chunks (refused while generated pairs are grounded on it, unless
    --detach-pairs).

    Example: `dobae docs remove 3`
    """
    from augment.documents import remove_document

    source, chunks, detached = remove_document(document_id, detach_pairs=detach_pairs)
    more = f"; {detached} grounded pair(s) kept without their chunk" if detached else ""
    console.print(f"removed document #{document_id}: {source} ({chunks} chunks){more}", soft_wrap=True)


@docs_app.command("list")
def docs_list() -> None:
    """List the documents with their chunks and grounded pairs.

    Example: `dobae docs list`
    """
    from rich.table import Table

    from augment.documents import document_rows
    from db.session import require_database

    require_database()  # a read-only command never creates a database at a mistyped path
    t = Table(title="documents")
    for col in ("id", "kind", "title", "pages", "chunks", "pairs", "source"):
        t.add_column(col, overflow="fold")
    for r in document_rows():
        t.add_row(*(str(v) if v is not None else "-" for v in r))
    out.print(t)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root `dobae` app."""
    app.add_typer(augment_app, name="augment")
    app.add_typer(docs_app, name="docs")
