"""The `dobae` command: one subcommand (group) per stage. Library first, CLI thin.

Each stage package has a `cli.py` with `register(app)` that adds its commands; this module only
assembles them and turns `DobaeError` into one stderr line and exit code 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from foundation.console import console, esc, out, quiet_library_bars
from foundation.errors import DobaeError

app = typer.Typer(
    name="dobae",
    help="Build a 도배 하자 question-answering model from the web: crawl → import → augment → review → "
    "export → train → infer → submit. Run `dobae COMMAND --help` for each stage.\n\n"
    "Example: `dobae demo` (the whole job on the shipped sample)",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command("config")
def config_cmd() -> None:
    """Print the resolved settings (secrets masked).

    Settings come from defaults, a `.env` file and `DOBAE_*` environment variables
    (nested with `__`). Example: `DOBAE_LLM__BASE_URL=http://127.0.0.1:8000/v1 dobae config`
    """
    from foundation.settings import get_settings

    out.print_json(json.dumps(get_settings().redacted(), ensure_ascii=False))


@app.command("demo")
def demo_cmd(
    train: Path = typer.Option(None, "--train", help="DACON train.csv (default: the shipped sample)"),
    test: Path = typer.Option(None, "--test", help="DACON test.csv (default: the shipped sample)"),
    step: list[str] = typer.Option(None, "--step", help="run only this step (repeatable): crawl, import, …"),
    infer_limit: int | None = typer.Option(
        None,
        "--infer-limit",
        min=0,
        show_default=False,
        help="test questions the LoRA run answers (default 24; 3-9 s each on a shared 2-core CPU); if the run "
        "measures best, the best extractive answerer answers the rest, and the output says so. 0: all",
    ),
) -> None:
    """Run the main job end to end: sandbox → crawl → import → augment → review → export → train →
    infer → submit with the best measured answerer (grouped CV of constant, retrieval, compose vs
    the LoRA run's validation metric). Re-running skips what is already done for the same input.

    Example: `dobae demo --train ../shared/data/dacon/dev.csv --test ../shared/data/dacon/test.csv`
    """
    import time

    from dobae.demo import print_summary, run_demo

    t0 = time.perf_counter()
    results = run_demo(train, test, only=step or None, infer_limit=infer_limit)  # None: demo.INFER_LIMIT
    print_summary(results, time.perf_counter() - t0)
    if any(r.status in ("failed", "blocked") for r in results):
        raise typer.Exit(1)


@app.command("status")
def status_cmd() -> None:
    """Summarise every stage from the database: questions, pairs by origin/status, crawl runs, augment
    jobs, training/inference runs, last scores.

    Example: `dobae status`
    """
    from db.session import require_database
    from dobae.status import print_status

    require_database()
    print_status()


@app.command("report")
def report_cmd(
    out_path: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write"),
    embedder: str = typer.Option(
        None, "--embedder", help="similarity plots: auto|muse3|none (default settings)"
    ),
    force: bool = typer.Option(False, "--force", help="overwrite an existing --out file"),
) -> None:
    """Write one self-contained HTML report (embedded PNG plots + the tables behind them).

    Example: `dobae report --out report.html`
    """
    from db.session import require_database
    from dobae.report import write_report
    from foundation.outfile import check_out_file

    check_out_file(out_path, force, example="report.html")
    require_database()
    path = write_report(out_path, embedder=embedder, force=force)
    out.print(str(path), markup=False)


def _register_stages() -> None:
    import augment.cli
    import crawler.cli
    import db.cli
    import infer.cli
    import train.cli
    from dobae.review_app.cli import register as register_review_serve

    register_review_serve(db.cli.review_app)  # `dobae review serve`: the web app on top of db.review
    for module in (db.cli, crawler.cli, augment.cli, train.cli, infer.cli):
        module.register(app)


_register_stages()


def _click_module():
    """The click that typer runs on: typer >= 0.2x bundles its own copy (`typer._click`), so the
    exceptions it raises are not `click.ClickException` from an installed click."""
    import typer.core

    return getattr(typer.core, "_click", None) or typer.core.click


def _fail(message: str, code: int = 1) -> None:
    # escaped: file names and cell values in messages may hold `[...]` that rich would take for markup
    console.print(f"[red]error:[/red] {esc(message)}", markup=True, soft_wrap=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run `dobae`: usage errors print the usage line and one error line (exit 2), a `DobaeError`
    or an unusable database one line (exit 1); no traceback for anything the user can fix."""
    from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError

    if argv is None:  # the `dobae` program itself (tests call main with their arguments)
        quiet_library_bars()
    click = _click_module()
    try:
        code = app(args=argv, standalone_mode=False)
    except DobaeError as exc:
        _fail(str(exc))
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        if type(exc) not in (OperationalError, InterfaceError, DatabaseError):
            raise  # IntegrityError, ProgrammingError, …: a bug, keep its traceback
        from db.session import database_error
        from foundation.settings import get_settings

        _fail(str(database_error(get_settings().db_url, exc)))
    except (
        PermissionError,
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
        IsADirectoryError,
    ) as exc:
        if not exc.filename:
            raise
        _fail(
            f"{exc.filename}: {exc.strerror}; check the path (a folder where a file is expected, or the reverse) and its permissions"
        )
    except typer.Abort:
        console.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        # usage errors: "Usage: …", "Try 'dobae X -h' for help.", "Error: …"; `dobae`, `dobae db`
        # alone (NoArgsIsHelpError) print the help instead. Exit 2.
        exc.show()
        sys.exit(exc.exit_code)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
