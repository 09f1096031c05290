"""`dobae crawl probe URL` and `scrapy parse --spider=ohouse URL` on the era sandboxes: what one page
yields (item, parse path, fields not found), nothing written to the database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from crawl_helpers import ROOT, env_for

from crawler.probe import probe as run_probe
from crawler.sandbox import Site, serve_sandbox
from foundation.errors import InputError


@pytest.fixture(scope="module")
def site_2019():
    with serve_sandbox(site=Site(era="2019", json=False, late_post=False, slow_s=0.0)) as base:
        yield base


@pytest.fixture(scope="module")
def site_2024():
    with serve_sandbox(site=Site(era="2024", json=False, late_post=False, slow_s=0.0)) as base:
        yield base


def probe(url: str, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    db = tmp_path / "never.db"
    proc = subprocess.run(
        [sys.executable, "-m", "dobae.cli", "crawl", "probe", url, *extra],
        cwd=ROOT, env=env_for(f"sqlite:///{db}"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert not db.exists()  # nothing written, not even a schema
    return proc


def test_probe_question_page_without_json(site_2019, tmp_path):
    proc = probe(f"{site_2019}/questions/1002", tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    assert got["kind"] == "question" and got["parse_paths"] == {"html": 1}
    [item] = got["items"]
    assert item["title"] == "실크벽지 이음새가 벌어지고 검은 줄이 보여요" and item["comment_count"] == 2
    assert item["comments"] == [] and item["comments_incomplete"] is True  # the empty mount point, no JSON
    assert item["comments_incomplete_reason"] == (
        "the page states 2 comment(s), 0 could be read (comments.json answered 404)"
    )
    assert [s for u, s in got["fetched"] if "comments.json" in u] == [404]


def test_probe_names_the_fields_not_found_and_prints_a_table(site_2024):
    from typer.testing import CliRunner

    from dobae.cli import app

    # 1020: withdrawn author (no link), no view count, no keywords, "3일 전"
    url = f"{site_2024}/community/posts/qna-1020"
    shown = CliRunner().invoke(app, ["crawl", "probe", url])
    assert shown.exit_code == 0, shown.output
    assert "parse path" in shown.output and "html (1)" in shown.output and "fields not found" in shown.output
    got = run_probe(url)
    assert {"view_count", "keywords"} <= set(got.missing) and got.parse_paths == {"html": 1}
    assert got.items[0]["posted_at"] == "2026-04-28T03:00:00Z"  # relative to the Date header
    assert got.items[0]["url"] == url  # a 2024 post keeps its own URL


def test_probe_list_page_lists_what_it_would_request(site_2019):
    got = run_probe(f"{site_2019}/questions?page=1")
    assert got.kind == "list" and got.items == []
    assert f"{site_2019}/questions?page=2" in got.next_requests
    assert not [u for u in got.next_requests if "2378" in u]  # notices skipped


def test_probe_obeys_robots_txt(site_2019):
    with pytest.raises(InputError, match="robots.txt forbids"):
        run_probe(f"{site_2019}/users/5002")


def test_scrapy_parse_works_without_arguments(site_2019, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "parse", "--spider=ohouse", "-s", "LOG_LEVEL=WARNING",
         "-s", "TELNETCONSOLE_ENABLED=0", f"{site_2019}/questions/1001"],
        cwd=ROOT, env=env_for(f"sqlite:///{tmp_path / 'unused.db'}"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "도배한 지 2주 됐는데 벽지가 군데군데 들떠요" in proc.stdout
    assert "Scraped Items" in proc.stdout and "comments_incomplete" not in proc.stderr


@pytest.fixture(scope="module")
def site_redesigned():
    site = Site(era="2021", json=False, late_post=False, slow_s=0.0, redesign=4)
    with serve_sandbox(site=site) as base:
        yield base


def test_probe_shows_the_structural_fallback_on_a_redesigned_page(site_redesigned):
    from typer.testing import CliRunner

    from dobae.cli import app

    url = f"{site_redesigned}/questions/1001"
    got = run_probe(url)
    assert got.parse_paths == {"generic": 1}
    [item] = got.items
    assert item["title"] == "도배한 지 2주 됐는데 벽지가 군데군데 들떠요" and len(item["comments"]) == 3
    assert got.stats["ohouse/generic_found/comments"] == 3
    shown = CliRunner().invoke(app, ["crawl", "probe", url])
    assert shown.exit_code == 0 and "generic (1)" in shown.output
    shown = CliRunner().invoke(app, ["crawl", "probe", f"{site_redesigned}/questions?page=2"])
    assert shown.exit_code == 0 and "list generic (1)" in shown.output
    listing = run_probe(f"{site_redesigned}/questions?page=1")
    assert listing.list_paths == {"generic": 1} and listing.stats["ohouse/notice_skipped"] == 3
    assert f"{site_redesigned}/questions/1066" in listing.next_requests  # the newest first
    assert f"{site_redesigned}/questions?page=2" in listing.next_requests


def test_scrapy_parse_on_a_redesigned_list_and_question(site_redesigned, tmp_path):
    for path, expect in (
        ("/questions?page=1", "/questions/1066"),
        ("/questions/1001", "도배한 지 2주 됐는데"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "scrapy", "parse", "--spider=ohouse", "-s", "LOG_LEVEL=WARNING",
             "-s", "TELNETCONSOLE_ENABLED=0", site_redesigned + path],
            cwd=ROOT, env=env_for(f"sqlite:///{tmp_path / 'unused.db'}"), capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert expect in proc.stdout, proc.stdout[-2000:]


def test_probe_prints_page_text_as_text_not_markup(tmp_path):
    """A title holding "[bold]…[/bold]" or "[/]" is shown as written (rich markup would eat it or fail)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from typer.testing import CliRunner

    from dobae.cli import app

    page = (
        "<html><body><article id='page'><h1 id='question-name'>[bold]벽지[/bold] 들뜸 [/]</h1>"
        "<section class='question__content__body'><p>본문</p></section></article></body></html>"
    ).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            status, body = (404, b"") if self.path == "/robots.txt" else (200, page)
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/questions/7"
        shown = CliRunner().invoke(app, ["crawl", "probe", url], env={"COLUMNS": "200"})
    finally:
        server.shutdown()
    assert shown.exit_code == 0, shown.output
    assert "[bold]벽지[/bold] 들뜸 [/]" in shown.output
