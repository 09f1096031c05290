"""`dobae db …` (migrations), `dobae import dacon`, `dobae export`, `dobae review …`.

Library first, CLI thin: each command parses its flags and calls one function of `db.migrate`,
`db.dacon`, `db.export` or `db.review`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from foundation.console import console, esc, out

db_app = typer.Typer(
    help="Database schema: Alembic migrations (same as `alembic upgrade head`).\n\nExample: `dobae db upgrade`",
    no_args_is_help=True,
)


@db_app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Create or upgrade the database schema. Example: `dobae db upgrade`"""
    from db.migrate import upgrade
    from foundation.settings import get_settings

    url = get_settings().db_url
    upgrade(url, revision)
    from db.migrate import current_revision

    console.print(f"database at revision [bold]{esc(current_revision(url))}[/bold]", markup=True)


@db_app.command("downgrade")
def downgrade_cmd(
    revision: str = typer.Argument(..., help="target revision, e.g. base or 0001"),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="yes, drop the tables and data of the newer revisions"
    ),
) -> None:
    """Downgrade the schema: drops the tables (and their data) of every newer revision; asks for
    `--yes`. Example: `dobae db downgrade base --yes`"""
    import sys

    from db.migrate import downgrade
    from db.session import require_database
    from foundation.errors import InputError
    from foundation.settings import mask_url

    url = require_database()
    if not yes:
        question = f"downgrade {mask_url(url)} to {revision}, dropping the newer tables and their data?"
        if not (sys.stdin.isatty() and typer.confirm(question, default=False)):
            raise InputError(
                f"`dobae db downgrade {revision}` drops tables and their data in {mask_url(url)}: "
                "pass --yes to confirm"
            )
    downgrade(url, revision)
    console.print(f"downgraded to {revision}")


@db_app.command("current")
def current_cmd() -> None:
    """Print the database's current revision. Example: `dobae db current`"""
    from db.migrate import current_revision
    from db.session import require_database

    console.print(current_revision(require_database()) or "(empty database)")


import_app = typer.Typer(
    help="Import data sets into the database.\n\n"
    "Example: `dobae import dacon ../shared/data/dacon/dev.csv --test ../shared/data/dacon/test.csv`",
    no_args_is_help=True,
)
review_app = typer.Typer(
    help="Review pairs: counts, a local review page (`serve`), and importing a reviewer's edited export.\n\n"
    "Example: `dobae review status`",
    no_args_is_help=True,
)


@import_app.command("dacon")
def import_dacon_cmd(
    train: Path | None = typer.Argument(
        None, help="DACON train CSV (id, 질문_1, 질문_2, category, 답변_1…답변_5)", show_default=False
    ),
    test: Path | None = typer.Option(None, "--test", help="DACON test CSV (id, 질문)", show_default=False),
    sample: bool = typer.Option(False, "--sample", help="import the small sample shipped in db/sample/"),
) -> None:
    """Import DACON CSVs: each train row's 2 questions x 5 answers become 10 approved pairs in one group; test questions become unanswered questions of split `test`. A re-run adds nothing.

    Example: `dobae import dacon ../shared/data/dacon/dev.csv --test ../shared/data/dacon/test.csv`
    """
    from db.dacon import SAMPLE_SOURCE, SOURCE, count_dacon, import_dacon, import_sample
    from db.session import session_scope

    if sample:
        if train or test:
            raise typer.BadParameter("--sample imports the shipped sample; give no files with it")
        summary = import_sample()
    else:
        summary = import_dacon(train, test)
    with session_scope() as s:
        pairs, groups, tests = count_dacon(s, SAMPLE_SOURCE if sample else SOURCE)
    t = Table(title=f"dobae import dacon ({summary.source}, {summary.seconds:.2f} s)", show_header=False)
    if summary.train_rows:
        t.add_row("train rows", f"{summary.train_rows}")
        t.add_row(
            "pairs",
            f"{summary.pairs_added} added, {summary.pairs_existing} already imported"
            + (f" ({summary.pairs_differ} differ in the database: kept)" if summary.pairs_differ else ""),
        )
        t.add_row("groups added", f"{summary.groups_added}")
    if summary.test_rows:
        t.add_row(
            "test questions",
            f"{summary.test_added} added, {summary.test_existing} already imported"
            + (f" ({summary.test_differ} differ: kept)" if summary.test_differ else ""),
        )
    t.add_row("in the database", f"{pairs} pairs in {groups} groups, {tests} test questions")
    console.print(t)


def export_cmd(
    out_path: Path = typer.Option(..., "--out", "-o", help="output file (.jsonl, .csv or .parquet)"),
    fmt: str | None = typer.Option(None, "--format", "-f", help="jsonl|csv|parquet (default: from --out)"),
    status: list[str] = typer.Option(
        ["approved"], "--status", help="review status(es) to include, repeatable; `all` for every pair"
    ),
    origin: list[str] | None = typer.Option(None, "--origin", help="crawl|dacon|augment|manual, repeatable"),
    category: list[str] | None = typer.Option(None, "--category", help="e.g. 마감하자, repeatable"),
    split: list[str] | None = typer.Option(None, "--split", help="train|valid|test, repeatable"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing --out file"),
) -> None:
    """Export pairs (ordered by id, fixed columns, UTF-8) and record the file's sha256.

    Columns: id, key, group_id, question, answer, category, origin, parent_id, source_groups (every group the pair was built from), split, status, reasons, note, version. Edit status/reasons/note/question/answer and load the file back with `dobae review import`.

    Example: `dobae export --status approved --format jsonl --out data/exports/approved.jsonl`
    """
    from db.export import export_pairs
    from db.session import require_database
    from foundation.outfile import check_out_file

    check_out_file(out_path, force, example="pairs.jsonl")
    require_database()
    res = export_pairs(out_path, fmt, statuses=status, origins=origin, categories=category, splits=split)
    console.print(f"exported {res.rows} pairs to {res.path} ({res.format}, export #{res.export_id})")
    out.print(f"sha256 {res.sha256}  {res.path}", soft_wrap=True)


@review_app.command("import")
def review_import_cmd(
    file: Path = typer.Argument(..., help="an edited `dobae export` file (.csv, .jsonl or .parquet)"),
    reviewer: str | None = typer.Option(
        None, "--reviewer", help="your name for the review log (default: $USER)"
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="check the file and count the changes; write nothing"
    ),
) -> None:
    """Apply edited statuses, reasons, notes and corrected texts from an export, all or nothing.

    Unknown ids, invalid statuses or rows changed in the database since the export stop the whole import. Every change is logged in review_events (who, when, from -> to, what changed).

    Example: `dobae review import data/exports/review.csv --reviewer kim`
    """
    from db.migrate import ensure_schema
    from db.review_import import import_review_file
    from db.session import require_database

    ensure_schema(require_database())
    s = import_review_file(file, reviewer=reviewer, dry_run=dry_run)
    moves = ", ".join(f"{a} -> {b}: {n}" for (a, b), n in sorted(s.transitions.items())) or "-"
    verb = "would change" if dry_run else "changed"
    console.print(
        f"{s.path}: {s.rows} rows, {verb} {s.changed} ({s.text_edits} with corrected texts), "
        f"{s.unchanged} unchanged; {moves}" + (" [dry run: nothing written]" if dry_run else "")
    )


@review_app.command("approve")
def review_approve_cmd(
    origin: str = typer.Option(..., "--origin", help="crawl, augment, …: whose curated pairs to approve"),
    no_flags: bool = typer.Option(
        False, "--no-flags", help="approve the curated pairs that carry no flag (required)"
    ),
    reviewer: str | None = typer.Option(
        None, "--reviewer", help="your name for the review log (default: $USER)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="count what would be approved; write nothing"),
) -> None:
    """Approve, in one logged step, the pairs the machine curated without a flag (positive signals such as +adopted are not flags), each for exactly the text that was curated. Flagged pairs, pairs not curated yet and pairs curated on an older text are left alone and counted.

    Example: `dobae augment curate && dobae review approve --origin crawl --no-flags --dry-run`
    """
    from db.migrate import ensure_schema
    from db.review import approve_unflagged
    from db.session import require_database

    if not no_flags:
        from foundation.errors import InputError

        raise InputError("say --no-flags: only curated pairs without a flag are approved in bulk")
    ensure_schema(require_database())  # nothing to approve in a database that does not exist
    s = approve_unflagged(origin, reviewer=reviewer, dry_run=dry_run)
    verb = "would approve" if dry_run else "approved"
    console.print(
        f"{s.origin}: {verb} {s.approved} pair(s) without flags; {s.flagged} flagged left for review, "
        f"{s.not_curated} not curated yet"
        + (f", {s.stale} curated on an older text" if s.stale else "")
        + (" (run `dobae augment curate`)" if s.not_curated or s.stale else "")
        + (" [dry run: nothing written]" if dry_run else "")
    )


@review_app.command("status")
def review_status_cmd() -> None:
    """Count pairs by origin and review status (a pair without a review is pending).

    Example: `dobae review status`
    """
    from db.migrate import ensure_schema
    from db.models import ReviewStatus
    from db.session import require_database, session_scope
    from db.summary import pair_counts

    ensure_schema(require_database())
    with session_scope() as s:
        rows = pair_counts(s)
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r.origin, {})[r.status] = r.count
    t = Table(title="review status")
    t.add_column("origin")
    for st in ReviewStatus:
        t.add_column(st.value, justify="right")
    for origin in sorted(counts):
        t.add_row(origin, *(str(counts[origin].get(st.value, 0)) for st in ReviewStatus))
    console.print(t if counts else "no pairs yet: `dobae import dacon --sample` adds a small sample")
    if counts:
        from db.review_queue import progress

        with session_scope() as s:
            p = progress(s)
        people = ", ".join(f"{r.reviewer} {r.today} today / {r.total} in all" for r in p.per_reviewer)
        out.print(
            f"reviewed today ({p.day} UTC): {p.reviewed_today}; left in the queue: {p.left} "
            f"({p.needs_review} needs review, {p.pending} pending)" + (f"; {people}" if people else ""),
            markup=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(import_app, name="import")
    app.command("export")(export_cmd)
    app.add_typer(review_app, name="review")
