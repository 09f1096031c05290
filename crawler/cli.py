"""`dobae` commands of the crawler stage: `dobae crawl run|list|runs`."""

from __future__ import annotations

import typer

crawl_app = typer.Typer(
    help="Crawl 오늘의집-style Q&A into the database (Scrapy; `scrapy crawl NAME` works too).",
    no_args_is_help=True,
)


def _parse_pairs(values: list[str], flag: str) -> dict[str, str]:
    from dobae.errors import InputError

    out: dict[str, str] = {}
    for value in values:
        if "=" not in value:
            raise InputError(f"{flag} {value!r}: expected KEY=VALUE")
        key, val = value.split("=", 1)
        out[key.strip()] = val
    return out


@crawl_app.command("run")
def run_cmd(
    spider: str = typer.Argument(..., help="ohouse | ohouse_spa | ohouse_sitemap | board"),
    base_url: str = typer.Option(None, "--base-url", help="site root, e.g. http://127.0.0.1:8800"),
    query: str = typer.Option(None, "--query", help="comma-separated keywords, e.g. 도배,벽지,곰팡이"),
    max_pages: int = typer.Option(None, "--max-pages", min=1, help="list pages per keyword"),
    arg: list[str] = typer.Option([], "--arg", "-a", help="other spider argument KEY=VALUE (e.g. config=…)"),
    setting: list[str] = typer.Option([], "--set", "-s", help="Scrapy setting KEY=VALUE"),
    jobdir: str = typer.Option(None, "--jobdir", help="pause/resume folder (a killed crawl resumes)"),
    no_throttle: bool = typer.Option(
        False, "--no-throttle", help="no AutoThrottle/delay (local sandbox only)"
    ),
) -> None:
    """Run a spider in this process, with a progress line and a summary at the end.

    Example: `dobae crawl run ohouse --base-url http://127.0.0.1:8800 --query 도배,벽지 --max-pages 3`
    """
    from rich.table import Table

    from crawler.run import crawl_settings, run_crawl
    from dobae.console import console, out

    args = _parse_pairs(arg, "--arg")
    if base_url:
        args["base_url"] = base_url
    if query:
        args["query"] = query
    if max_pages:
        args["max_pages"] = str(max_pages)
    settings = crawl_settings(
        throttle=not no_throttle, jobdir=jobdir, overrides=_parse_pairs(setting, "--set")
    )
    with console.status(f"crawling with {spider}…") as status:

        def show(c: dict) -> None:
            status.update(f"{spider}: {c['pages']} pages, {c['items']} questions, {c['dropped']} dropped")

        stats = run_crawl(spider, args, settings, on_progress=show)
    table = Table(title=f"crawl {spider}: {stats.get('finish_reason', '?')}", show_header=False)
    for key in (
        "downloader/response_count", "item_scraped_count", "item_dropped_count", "db/questions_inserted",
        "db/questions_updated", "db/questions_unchanged", "db/questions_deleted", "db/answers_written",
        "db/qa_pairs_written", "incremental/skipped", "retry/count", "login_redirect/blocked",
        "robotstxt/forbidden", "log_count/ERROR", "elapsed_s",
    ):  # fmt: skip
        if key in stats:
            table.add_row(key, str(stats[key]))
    out.print(table)


@crawl_app.command("list")
def list_cmd() -> None:
    """List the spiders. Example: `dobae crawl list`"""
    from crawler.run import SPIDERS
    from dobae.console import out

    for name in SPIDERS:
        out.print(name)


@crawl_app.command("runs")
def runs_cmd(limit: int = typer.Option(10, "--limit", min=1, help="how many recent runs")) -> None:
    """Show the latest crawl runs with their status and counts. Example: `dobae crawl runs --limit 5`"""
    from rich.table import Table
    from sqlalchemy import select

    from db.migrate import ensure_schema
    from db.models import CrawlRun
    from db.session import session_scope
    from dobae.console import out
    from dobae.settings import get_settings

    url = get_settings().db_url
    ensure_schema(url)
    table = Table("id", "spider", "status", "started", "items", "inserted", "updated", "unchanged")
    with session_scope(url) as s:
        for run in s.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)):
            st = run.stats or {}
            table.add_row(
                str(run.id), run.spider, run.status.value, run.started_at.isoformat(timespec="seconds"),
                str(st.get("item_scraped_count", 0)), str(st.get("db/questions_inserted", 0)),
                str(st.get("db/questions_updated", 0)), str(st.get("db/questions_unchanged", 0)),
            )  # fmt: skip
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root `dobae` app."""
    app.add_typer(crawl_app, name="crawl")
