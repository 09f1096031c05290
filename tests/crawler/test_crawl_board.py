"""The config-driven `board` spider with the shipped configs (`crawler/boards/kin.yaml`,
`crawler/boards/82cook.toml`): a 지식iN-like board and a CP949 82cook-like table board, crawled in a
real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from crawl_helpers import db_questions, free_port, run_scrapy, wait_http

from crawler.spiders.board import BOARDS_DIR

HERE = Path(__file__).parent


@pytest.fixture
def site(tmp_path):
    port = free_port()
    log = tmp_path / "requests.log"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "mini_site.py"), str(port), str(log)], stderr=subprocess.PIPE
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/robots.txt", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_kin_like_board_with_shipped_yaml(db_url, site):
    run_scrapy("board", site, db_url, "-a", "config=kin")
    rows = db_questions(db_url, "kin")
    assert set(rows) == {"5001", "5002", "5003"}
    assert rows["5003"]["q"].is_deleted and rows["5003"]["q"].title is None
    q = rows["5001"]["q"]
    assert (q.title, q.body, q.view_count) == ("베란다 벽지 곰팡이 제거", "질문 본문입니다 5001", 1204)
    assert q.url.endswith("/kin/detail?docId=5001")
    assert q.posted_at.replace(tzinfo=None).isoformat() == "2026-04-27T15:00:00"
    a1, a2 = rows["5001"]["answers"]
    assert (a1.external_id, a1.is_adopted, a1.body) == (
        "5001:a1",
        True,
        "초배지부터 다시 시공하세요.\nㅠㅠ 힘내세요",
    )
    assert (a2.is_adopted, a2.posted_at.replace(tzinfo=None).isoformat()) == (
        False,
        "2026-05-01T00:00:00",
    )  # 3시간 전


def test_cp949_table_board_with_shipped_toml(db_url, site, tmp_path):
    # a config is all a new site needs: here the shipped one, copied to a file of the user's
    cfg = tmp_path / "my-board.toml"
    cfg.write_text(BOARDS_DIR.joinpath("82cook.toml").read_text(encoding="utf-8"), encoding="utf-8")
    proc = run_scrapy("board", site, db_url, "-a", f"config={cfg}")
    rows = db_questions(db_url, "82cook")
    assert set(rows) == {"301", "302"}  # the notice row is skipped
    assert rows["301"]["q"].title == "합지벽지 이음새가 벌어졌어요"
    assert rows["302"]["q"].body == "이음새가 벌어져서 속상해요 ㅠㅠ 302"  # charset only in <meta>
    assert (
        rows["302"]["q"].posted_at.replace(tzinfo=None).isoformat() == "2026-05-01T00:30:12"
    )  # today 09:30:12 KST
    assert [a.body for a in rows["301"]["answers"]] == ["풀칠을 다시 하세요"]
    assert "'board/notice_skipped': 1" in proc.stderr
