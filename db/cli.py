"""`dobae db …`: migrations. (`dobae import`, `dobae export`, `dobae review` live here too.)"""

from __future__ import annotations

import typer

from dobae.console import console

db_app = typer.Typer(help="Database schema: Alembic migrations (same as `alembic upgrade head`).",
                     no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Create or upgrade the database schema. Example: `dobae db upgrade`"""
    from db.migrate import upgrade
    from dobae.settings import get_settings

    url = get_settings().db_url
    upgrade(url, revision)
    from db.migrate import current_revision

    console.print(f"database at revision [bold]{current_revision(url)}[/bold]")


@db_app.command("downgrade")
def downgrade_cmd(revision: str = typer.Argument(..., help="target revision, e.g. base or 0001")) -> None:
    """Downgrade the schema. Example: `dobae db downgrade base`"""
    from db.migrate import downgrade
    from dobae.settings import get_settings

    downgrade(get_settings().db_url, revision)
    console.print(f"downgraded to {revision}")


@db_app.command("current")
def current_cmd() -> None:
    """Print the database's current revision. Example: `dobae db current`"""
    from db.migrate import current_revision
    from dobae.settings import get_settings

    console.print(current_revision(get_settings().db_url) or "(empty database)")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
