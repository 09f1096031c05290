"""The config-driven `board` spider with the shipped configs against the sandbox's boards: the
지식iN-like board (`crawler/boards/kin.yaml`) and the CP949 82cook-like table board
(`crawler/boards/82cook.toml`, charset in the header or only in `<meta>`), crawled in a real
subprocess; the rows equal `crawler/sandbox/golden/{kin,82cook}.jsonl`."""

from __future__ import annotations

from crawl_helpers import assert_golden, db_questions, run_scrapy

from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.golden import load_golden
from crawler.spiders.board import BOARDS_DIR


def test_kin_like_board_with_shipped_yaml(db_url):
    site = Site(log_requests=True)
    with serve_sandbox(site=site) as base:
        run_scrapy("board", base, db_url, "-a", "config=kin")
    assert_golden(db_url, base, load_golden("kin.jsonl"), {"5004": "deleted"}, source="kin")
    assert db_questions(db_url, "kin")["5004"]["q"].title is None  # deleted before it was ever stored
    assert site.requested()[0] == "/robots.txt"


def test_cp949_table_board_with_shipped_toml(db_url, tmp_path):
    # a config is all a new site needs: here the shipped one, copied to a file of the user's
    cfg = tmp_path / "my-board.toml"
    cfg.write_text(BOARDS_DIR.joinpath("82cook.toml").read_text(encoding="utf-8"), encoding="utf-8")
    site = Site(log_requests=True)
    with serve_sandbox(site=site) as base:
        proc = run_scrapy("board", base, db_url, "-a", f"config={cfg}")
    # 301/303 send charset=euc-kr in the header, 302/304 only in <meta>: all decode the same
    assert_golden(db_url, base, load_golden("82cook.jsonl"), source="82cook")
    assert "'board/notice_skipped': 2" in proc.stderr
    assert not [p for p in site.requested() if "num=1" in p or "num=2&" in p or p.endswith("num=2")]


def test_robots_txt_disallowed_start_pages_are_never_requested(sqlite_url, tmp_path):
    """A config that asks for pages the sandbox's robots.txt disallows (`/users/`, `*/report`): they
    are refused before any request (robots.txt is read first), the allowed board is crawled."""
    cfg = tmp_path / "greedy.yaml"
    text = BOARDS_DIR.joinpath("kin.yaml").read_text(encoding="utf-8")
    cfg.write_text(text.replace('start: ["/kin/list"]', 'start: ["/users/7", "/questions/1001/report", "/kin/list"]'),
                   encoding="utf-8")  # fmt: skip
    site = Site(log_requests=True)
    with serve_sandbox(site=site) as base:
        proc = run_scrapy("board", base, sqlite_url, "-a", f"config={cfg}")
    requested = site.requested()
    assert requested[0] == "/robots.txt"
    assert "/users/7" not in requested and "/questions/1001/report" not in requested
    assert "'robotstxt/forbidden': 2" in proc.stderr
    assert_golden(sqlite_url, base, load_golden("kin.jsonl"), {"5004": "deleted"}, source="kin")
