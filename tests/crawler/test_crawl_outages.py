"""A crawl whose site fails midway never loses rows silently: it stops `failed` with the reason and
exit 1, and the same crawl run again ends with exactly the site's rows. A part that cannot be used
at the start (database, Redis) is one line, exit 1. (The database's own outages midway:
test_crawl_db_outages.py.)

Real parts: `dobae crawl run` subprocesses, the sandbox site on 127.0.0.1 (stopped and started
again on its port)."""

from __future__ import annotations

import re
import subprocess

import pytest
from crawl_helpers import ROOT, dobae_crawl_cmd, env_for, error_lines, free_port
from outage_helpers import SCALE, rerun_restores_every_row, runs, start_crawl, stored, wait_until

from crawler.sandbox import SandboxServer, Site, serve_sandbox
from crawler.sandbox.golden import golden_rows
from db.models import RunStatus

# ----------------------------------------------------------------------------- the site goes down


def test_a_site_that_goes_down_midway_fails_the_crawl_and_a_rerun_restores_every_row(sqlite_url):
    """The site's fault does not depend on the database: SQLite only (the database's own faults
    run on their backend: test_crawl_db_outages.py)."""
    db_url = sqlite_url
    site = Site(scale=SCALE, log_requests=True)
    server = SandboxServer(site).start()
    base, port = server.base_url, server.port
    try:
        proc = start_crawl(db_url, base, "--set", "RETRY_TIMES=1")  # each lost page: 2 refusals
        asked = lambda: sum(bool(re.fullmatch(r"/questions/\d+", p)) for p in site.requested())  # noqa: E731
        # stopped late in the crawl: each page still to come costs two refused tries (~0.6 s)
        wait_until(lambda: asked() >= 50, proc, "50 question pages were asked")
        server.stop()  # the site goes down: every later request is refused
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err[-3000:]
        lines = error_lines(err)
        assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
        assert lines[0].startswith("error: crawl ohouse failed: ") and "could not be fetched" in lines[0]
        assert "connection refused" in lines[0] and "run the same crawl again" in lines[0], lines
        [run] = runs(db_url)
        assert run.status == RunStatus.failed and "run the same crawl again" in run.error
        assert run.stats["dobae/lost_requests"] > 0
        assert stored(db_url) < len(golden_rows(site))  # rows are missing …
        server = SandboxServer(site, port=port).start()  # … until the site is back and it runs again
        rerun_restores_every_row(db_url, base, site)
    finally:
        server.stop()


# ----------------------------------------------------------------------------- parts that cannot be used


@pytest.mark.parametrize("part", ["postgres_down", "not_a_database", "redis_down"])
def test_a_part_that_cannot_be_used_at_the_start_is_one_line(tmp_path, part):
    url = f"sqlite:///{tmp_path / 'dobae.db'}"
    extra: tuple[str, ...] = ()
    if part == "postgres_down":
        url = f"postgresql+psycopg://dobae:secret@127.0.0.1:{free_port()}/dobae"
        want = "cannot reach the database server"
    elif part == "not_a_database":
        (tmp_path / "dobae.db").write_text("a text file, not SQLite\n" * 100, encoding="utf-8")
        want = "file is not a database"
    else:
        extra = ("--set", "SCHEDULER=crawler.distributed.Scheduler",
                 "--set", f"REDIS_URL=redis://:secret@127.0.0.1:{free_port()}/0")  # fmt: skip
        want = "start Redis there or fix REDIS_URL"
    with serve_sandbox(site=Site(scale=70, log_requests=True)) as base:
        proc = subprocess.run(dobae_crawl_cmd("ohouse", base, *extra), cwd=ROOT, env=env_for(url),
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and want in lines[0], proc.stderr[-3000:]
    assert "secret" not in proc.stderr and "Traceback" not in proc.stderr
