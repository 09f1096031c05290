"""A crawl that fetches nothing is a failed crawl, not a `finished` one with 0 items: nothing
listening at the address, or a plain file server that answers 404 to every path. `dobae crawl run`
says why in one line and exits 1, the `crawl_runs` row is `failed` with the reason, and
`scrapy crawl` logs the same reason as an ERROR. Real subprocesses against real local servers."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from backends import one_backend_each
from crawl_helpers import FAST, ROOT, env_for, free_port, scrapy_cmd
from sqlalchemy import select

from crawler.monitor import failure_reason
from db.models import CrawlRun, RunStatus
from db.session import session_scope


@contextmanager
def file_server(folder) -> Iterator[str]:
    """`python -m http.server` over an empty folder: every path the spiders ask for is a 404."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def dobae_crawl(db_url: str, spider: str, base: str, *extra: str) -> subprocess.CompletedProcess:
    sets = [x for pair in zip(FAST[::2], FAST[1::2], strict=True) for x in ("--set", pair[1])]
    return subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", "run", spider, "--base-url", base, *sets, *extra],
        capture_output=True, text=True, timeout=120, env=env_for(db_url), cwd=ROOT,
    )  # fmt: skip


def only_run(db_url: str) -> CrawlRun:
    with session_scope(db_url) as s:
        (run,) = s.scalars(select(CrawlRun)).all()
        return run


def assert_failed(proc: subprocess.CompletedProcess, db_url: str, spider: str, why: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: crawl {spider} failed: no page fetched"), lines
    assert why in lines[0], lines
    assert "Traceback" not in proc.stderr
    run = only_run(db_url)
    assert run.status == RunStatus.failed and run.finished_at is not None
    assert run.error and run.error.startswith("no page fetched") and why in run.error
    assert (run.stats or {}).get("dobae/failure") == run.error


def test_nothing_listening_is_a_failed_crawl(db_url):
    port = free_port()  # bound and released: nothing listens there
    proc = dobae_crawl(db_url, "ohouse", f"http://127.0.0.1:{port}")
    assert_failed(proc, db_url, "ohouse", "connection refused")


# each spider on one database (the subject is the spider's verdict, written the same way on both)
@one_backend_each(
    "spider,extra",
    [("ohouse", ()), ("ohouse_sitemap", ()), ("board", ("--arg", "config=kin"))],
    ids=["ohouse", "ohouse_sitemap", "board"],
)
def test_a_site_that_answers_404_everywhere_is_a_failed_crawl(db_url, tmp_path, spider, extra):
    (tmp_path / "www").mkdir()
    with file_server(tmp_path / "www") as base:
        proc = dobae_crawl(db_url, spider, base, *extra)
    assert_failed(proc, db_url, spider, "HTTP 404")


def test_scrapy_crawl_logs_the_reason_as_an_error_and_no_telnet_console(sqlite_url, tmp_path):
    (tmp_path / "www").mkdir()
    with file_server(tmp_path / "www") as base:
        cmd = scrapy_cmd("ohouse", base)
        at = cmd.index("TELNETCONSOLE_ENABLED=0")  # the tests' own switch off: the project's counts
        del cmd[at - 1 : at + 1]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, env=env_for(sqlite_url), cwd=ROOT
        )
    assert proc.returncode == 1  # our `crawl` command (crawler/commands): Scrapy's own exits 0
    errors = [line for line in proc.stderr.splitlines() if "ERROR: crawl failed:" in line]
    assert len(errors) == 1 and "no page fetched from " + base in errors[0] and "HTTP 404" in errors[0]
    # the telnet console is off in the project settings (no port, no credentials in the log)
    assert "Enabled extensions" in proc.stderr and "TelnetConsole" not in proc.stderr
    assert "Telnet console listening" not in proc.stderr and "Telnet Password" not in proc.stderr
    # so is Scrapy 2.19's remote control (an HTTP port that runs code sent with its token)
    assert "RemoteControl" not in proc.stderr
    assert only_run(sqlite_url).status == RunStatus.failed


def fresh_process_lines(code: str) -> list[str]:
    """What `code` prints, run in a new Python process in the project (what a crawl's start imports)."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


def test_the_remote_control_is_not_even_loaded():
    """Its module imports aiohttp (~0.3 s at every crawl's start) only to switch itself off. Scrapy
    imports every key of EXTENSIONS to compare them, one set to None too: so it is left out of the
    base list instead (the list a crawl's extension manager builds here, in a fresh process)."""
    code = (
        "import sys; from scrapy.utils.conf import build_component_list; "
        "from scrapy.utils.project import get_project_settings; "
        "s = get_project_settings(); print(build_component_list(s.get_component_priority_dict_with_base('EXTENSIONS'))); "
        "print(sorted(m for m in sys.modules if m.startswith(('aiohttp', 'scrapy.extensions.remote_control'))))"
    )
    loaded, imported = fresh_process_lines(code)
    assert "scrapy.extensions.corestats.CoreStats" in loaded  # Scrapy's own ones are there …
    assert "crawler.jobdir.JobdirGuard" in loaded and "remote_control" not in loaded  # … but not this one
    assert imported == "[]", imported  # nor its module, nor aiohttp


def test_loading_the_spiders_imports_no_browser_and_no_http_server():
    """Scrapy imports every spider module at each crawl's start: the browser spider's Playwright
    (~0.2 s) and aiohttp (~0.4 s) are imported only by the crawl that uses them."""
    code = (
        "import sys; from scrapy.spiderloader import SpiderLoader; "
        "from scrapy.utils.project import get_project_settings; "
        "print(sorted(SpiderLoader.from_settings(get_project_settings()).list())); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'playwright', 'scrapy_playwright', 'aiohttp'}))"
    )
    spiders, heavy = fresh_process_lines(code)
    assert "ohouse_spa" in spiders and heavy == "[]", (spiders, heavy)


def test_failure_reason_rules():
    ok = {"dobae/pages_ok": 3, "item_scraped_count": 0}
    assert failure_reason(ok) is None  # an incremental crawl with nothing new is fine
    assert failure_reason({**ok, "log_count/ERROR": 1, "item_scraped_count": 2}) is None
    why = failure_reason({**ok, "log_count/ERROR": 2, "downloader/response_status_count/500": 4}, "http://x")
    assert why is not None and why.startswith("2 error(s) and no item from http://x") and "HTTP 500 ×4" in why
    # an incremental recrawl that skipped every stored question and met only broken pages is fine
    # (`scrapy crawl` exits 1 on a failed crawl now, so this must not be one)
    assert failure_reason({**ok, "log_count/ERROR": 3, "incremental/skipped": 62}) is None
    refused = {"downloader/exception_type_count/twisted.internet.error.DNSLookupError": 2}
    assert "DNS lookup failed ×2" in (failure_reason(refused) or "")


def test_ctrl_c_is_stored_interrupted_not_finished(db_url):
    """Scrapy's graceful stop (SIGINT: finish_reason `shutdown`) is `interrupted` in the run row;
    the pipeline used to read finish_reason before Scrapy set it and stored `finished`."""
    import os
    import signal
    import time

    from crawler.sandbox import Site, serve_sandbox

    with serve_sandbox(site=Site(scale=200)) as base:
        proc = subprocess.Popen(
            scrapy_cmd("ohouse", base, "-s", "DOWNLOAD_DELAY=0.1", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
                       "-s", "DOBAE_DB_FLUSH_S=0.3"),
            cwd=ROOT, env=env_for(db_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with session_scope(db_url) as s:
                if s.scalars(select(CrawlRun.id)).first() is not None:
                    break
            time.sleep(0.1)
        time.sleep(1.0)
        assert proc.poll() is None, "the crawl ended before it could be stopped"
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    run = only_run(db_url)
    assert run.status == RunStatus.interrupted and (run.stats or {}).get("finish_reason") == "shutdown"
