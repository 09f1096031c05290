"""The demo's data steps: crawl (the sandbox site, or `--base-url`) and the DACON import."""

from __future__ import annotations

from dobae.demo import processes
from dobae.demo.steps.context import DemoContext, Outcome
from foundation.console import console
from foundation.errors import DobaeError


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
