"""The `dobae` command: one subcommand (group) per stage. Library first, CLI thin.

Each stage package has a `cli.py` with `register(app)` that adds its commands; this module only
assembles them and turns `DobaeError` into one stderr line and exit code 1.
"""

from __future__ import annotations

import json
import sys

import typer

from dobae.console import console, out
from dobae.errors import DobaeError

app = typer.Typer(
    name="dobae",
    help="Build a 도배 하자 question-answering model from the web: crawl → import → augment → review → "
    "export → train → infer → submit. Run `dobae COMMAND --help` for each stage.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command("config")
def config_cmd() -> None:
    """Print the resolved settings (secrets masked).

    Settings come from defaults, a `.env` file and `DOBAE_*` environment variables
    (nested with `__`). Example: `DOBAE_LLM__BASE_URL=http://127.0.0.1:8000/v1 dobae config`
    """
    from dobae.settings import get_settings

    out.print_json(json.dumps(get_settings().redacted(), ensure_ascii=False))


def _register_stages() -> None:
    import augment.cli
    import crawler.cli
    import db.cli
    import infer.cli
    import train.cli

    for module in (db.cli, crawler.cli, augment.cli, train.cli, infer.cli):
        module.register(app)


_register_stages()


def main(argv: list[str] | None = None) -> None:
    try:
        code = app(args=argv, standalone_mode=False)
    except DobaeError as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True, soft_wrap=True)
        sys.exit(1)
    except typer.Abort:
        console.print("aborted")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
