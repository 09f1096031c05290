"""`dobae` commands of the crawler stage: `dobae crawl run|probe|list|runs`."""

from __future__ import annotations

import re

import typer

crawl_app = typer.Typer(
    help="Crawl 오늘의집-style Q&A into the database (Scrapy; `scrapy crawl NAME` works too).\n\n"
    "Example: `dobae crawl run ohouse --base-url http://127.0.0.1:8800 --max-pages 3`",
    no_args_is_help=True,
)


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

    from crawler.pipelines import STOPPED_BY_A_PART
    from crawler.run import crawl_settings, run_crawl
    from foundation.console import console, out
    from foundation.keyvalue import parse_key_values

    args = parse_key_values(arg, "--arg", "config=crawler/boards/kin.yaml")
    if base_url:
        args["base_url"] = base_url
    if query:
        args["query"] = query
    if max_pages:
        args["max_pages"] = str(max_pages)
    settings = crawl_settings(
        throttle=not no_throttle,
        jobdir=jobdir,
        overrides=parse_key_values(setting, "--set", "DOWNLOAD_DELAY=2"),
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
        "robotstxt/forbidden", "ohouse/comments_incomplete", "ohouse/title_from_body", "ohouse/fallback_pages",
        "dobae/lost_requests", "db/retries", "db/items_not_written", "log_count/ERROR", "elapsed_s",
    ):  # fmt: skip
        if key in stats:
            table.add_row(key, str(stats[key]))
    failure = stats.get("dobae/failure")
    # stopped by the database or Redis: the run is `interrupted` and the same crawl resumes it
    how = "stopped" if stats.get("finish_reason") in STOPPED_BY_A_PART else "failed"
    if failure:
        table.title = f"crawl {spider}: {how}"
    out.print(table)
    fallback = stats.get("ohouse/fallback_pages")
    if fallback:
        out.print(
            f"{fallback} pages parsed by the structural fallback: the selectors may be out of date "
            "(dobae crawl probe URL shows one page)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if failure:
        from foundation.errors import DobaeError

        raise DobaeError(f"crawl {spider} {how}: {failure}")


@crawl_app.command("probe")
def probe_cmd(
    url: str = typer.Argument(..., help="a list page, a question page or a JSON URL of the site"),
    base_url: str = typer.Option(None, "--base-url", help="site root (default: the URL's scheme and host)"),
    ignore_robots: bool = typer.Option(False, "--ignore-robots", help="fetch even what robots.txt forbids"),
    as_json: bool = typer.Option(False, "--json", help="print the result as one JSON object"),
) -> None:
    """What the `ohouse` spider makes of one page: the item, the parse path taken and the fields it
    could not find — nothing is written to the database.

    Example: `dobae crawl probe http://127.0.0.1:8800/questions/1001`
    """
    import dataclasses
    import json

    from rich.table import Table
    from rich.text import Text

    from crawler.probe import probe
    from foundation.console import out

    result = probe(url, base_url=base_url, obey_robots=not ignore_robots)
    if as_json:
        out.print_json(json.dumps(dataclasses.asdict(result), ensure_ascii=False, default=str))
        return
    # page text and URLs are text, never rich markup (a title may hold "[b]"); result.url has no password
    table = Table(title=Text(f"crawl probe: {result.url} ({result.kind})"), show_header=False)
    table.add_row("fetched", Text("\n".join(f"{s} {u}" for u, s in result.fetched)))
    paths = {**result.parse_paths, **{f"list {k}": v for k, v in result.list_paths.items()}}
    table.add_row("parse path", ", ".join(f"{k} ({v})" for k, v in paths.items()) or "-")
    table.add_row("fields not found", ", ".join(f"{k} ({v})" for k, v in result.missing.items()) or "-")
    for item in result.items:
        comments = item.get("comments") or []
        table.add_row(
            Text(f"item {item['external_id']}"),
            Text(
                f"{item.get('title') or '(no title)'}\n"
                f"url {item['url']} · posted {item.get('posted_at')} · author {item.get('author_name')}\n"
                f"comments {len(comments)} of {item.get('comment_count')}"
                + (
                    f" · comments_incomplete: {item.get('comments_incomplete_reason')}"
                    if item.get("comments_incomplete")
                    else ""
                )
                + (" · title from the body" if item.get("title_from_body") else "")
                + (" · deleted" if item.get("is_deleted") else "")
            ),
        )
    for reason in result.dropped:
        table.add_row("dropped", Text(reason))
    if result.next_requests:
        shown = result.next_requests[:15]
        more = len(result.next_requests) - len(shown)
        table.add_row("would request", Text("\n".join(shown) + (f"\n… {more} more" if more else "")))
    other = {k: v for k, v in result.stats.items() if not re.search(r"/(parsed|list_parsed|missing)/", k)}
    if other:
        table.add_row("stats", ", ".join(f"{k.removeprefix('ohouse/')}={v}" for k, v in other.items()))
    out.print(table)
    for item in result.items:
        out.print_json(json.dumps(item, ensure_ascii=False, default=str))


@crawl_app.command("list")
def list_cmd() -> None:
    """List the spiders. Example: `dobae crawl list`"""
    from crawler.run import SPIDERS
    from foundation.console import out

    for name in SPIDERS:
        out.print(name)


@crawl_app.command("runs")
def runs_cmd(limit: int = typer.Option(10, "--limit", min=1, help="how many recent runs")) -> None:
    """Show the latest crawl runs with their status and counts. Example: `dobae crawl runs --limit 5`"""
    from rich.table import Table

    from db.migrate import ensure_schema
    from db.session import require_database, session_scope
    from db.summary import crawl_runs
    from foundation.console import out

    url = require_database()
    ensure_schema(url)
    table = Table()
    for col in ("id", "spider", "status", "started", "items", "inserted", "updated", "unchanged"):
        table.add_column(col, overflow="fold")  # a narrow terminal folds a status, never cuts it
    notes = []
    with session_scope(url) as s:
        runs = crawl_runs(s, limit)  # a SIGKILLed crawl never wrote its end: read `interrupted`
    for run in runs:
        note = run.note
        if run.status == "interrupted":
            how = f" with --jobdir {run.job_dir}" if run.job_dir else ""
            note += f"{'; ' if note else ''}resume: run the same crawl again{how}"
        if note:
            notes.append(f"run {run.id} {run.status}: {note}")
        table.add_row(
            str(run.id), run.spider, run.status, run.started_at.isoformat(timespec="seconds"),
            str(run.items), str(run.stat("db/questions_inserted")),
            str(run.stat("db/questions_updated")), str(run.stat("db/questions_unchanged")),
        )  # fmt: skip
    out.print(table)
    for note in notes:
        out.print(note, markup=False, highlight=False)


# ----------------------------------------------------------------------------- dobae sandbox

sandbox_app = typer.Typer(
    help="The sandbox site: a local imitation of 오늘의집 질문과답변 for tests, benchmarks and the demo.\n\n"
    "Example: `dobae sandbox serve --port 8800`",
    no_args_is_help=True,
)


@sandbox_app.command("serve")
def sandbox_serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (keep it local)"),
    port: int = typer.Option(8800, "--port", min=0, max=65535, help="port; 0 picks a free one"),
    scale: int = typer.Option(None, "--scale", min=0, help="total questions: the seed plus generated ones"),
    seed: int = typer.Option(0, "--seed", help="seed of the generated (--scale) questions"),
    churn: int = typer.Option(0, "--churn", help="markup churn level: changes every emotion class hash"),
    rate_limit: float = typer.Option(
        None, "--rate-limit", min=0.1, help="requests/s per client before 429 + Retry-After (token bucket)"
    ),
    burst: int = typer.Option(20, "--burst", min=1, help="token bucket size for --rate-limit"),
    slow: float = typer.Option(2.0, "--slow", min=0, help="seconds the slow question (1018) takes"),
    no_late_post: bool = typer.Option(
        False, "--no-late-post", help="publish the late post (1066) from the start: no page shift"
    ),
    era: str = typer.Option(
        None,
        "--era",
        help="the real site's markup of that era: 2019 | 2021 | 2024 (default: the current sandbox)",
    ),
    no_json: bool = typer.Option(
        False, "--no-json", help="with --era: no JSON endpoints and no JSON embedded in pages (HTML only)"
    ),
    redesign: int = typer.Option(
        None, "--redesign", help="a seed: rename every class, id and data-* attribute to opaque tokens"
    ),
) -> None:
    """Serve the sandbox site until Ctrl-C; prints its URL first.

    Example: `dobae sandbox serve --port 8800 --scale 5000`, `dobae sandbox serve --era 2021 --no-json
    --redesign 7`
    """
    from crawler.sandbox.server import SandboxServer
    from foundation.console import console, out

    with console.status("loading the sandbox content…"):
        server = SandboxServer(
            host=host, port=port, scale=scale, seed=seed, churn=churn, rate_limit=rate_limit, burst=burst,
            slow_s=slow, late_post=not no_late_post, era=era, json=not no_json, redesign=redesign,
        )  # fmt: skip
    out.print(server.base_url, markup=False, highlight=False)
    console.print(
        f"sandbox: {len(server.site.questions)} questions, {len(server.site.live_questions())} live; "
        f"robots {server.base_url}/robots.txt; Ctrl-C stops",
        markup=False,
    )
    server.run()


@sandbox_app.command("golden")
def sandbox_golden_cmd(
    check: bool = typer.Option(False, "--check", help="only check that the committed files are current"),
) -> None:
    """Rewrite (or --check) the golden JSONL files of crawler/sandbox/golden/.

    Example: `dobae sandbox golden --check`
    """
    from crawler.sandbox.golden import stale_files, write_golden
    from foundation.console import out
    from foundation.errors import InputError

    if check:
        stale = stale_files()
        if stale:
            raise InputError(f"golden files out of date: {', '.join(stale)}; run `dobae sandbox golden`")
        out.print("golden files are up to date")
        return
    for path in write_golden():
        out.print(str(path), markup=False)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root `dobae` app."""
    app.add_typer(crawl_app, name="crawl")
    app.add_typer(sandbox_app, name="sandbox")
