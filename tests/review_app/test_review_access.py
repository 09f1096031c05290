"""`dobae review serve` over HTTP: a token off loopback, loopback Host names only, JSON-only writes,
stale writes refused; the progress numbers the page, `dobae status` and the report share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from review_helpers import events, pair_state


def test_a_token_is_required_off_loopback(db_url, queue_db):
    from dobae.review_app.app import create_app
    from dobae.review_app.serve import serving, token_for

    assert token_for("127.0.0.1", None) is None and token_for("localhost", None) is None
    token = token_for("0.0.0.0", None)  # any other address: a fresh token
    assert token and len(token) >= 32 and token != token_for("0.0.0.0", None)
    with serving(create_app(db_url, "tester", token=token, loopback_only=False), host="0.0.0.0") as base:
        with httpx.Client(base_url=base) as c:
            assert c.get("/").status_code == 401
            assert c.get("/static/review.js").status_code == 401
            assert c.get("/?token=wrong").status_code == 401
            act = {"action": "reject", "version": 1, "seen_event": 0}
            assert c.post(f"/api/pairs/{queue_db['fresh']}", json=act).status_code == 401
            assert c.get("/", headers={"X-Dobae-Token": token}).status_code == 200
            r = c.get(f"/?token={token}&reason=too_short")  # once in the URL: a cookie, the URL without it
            assert r.status_code == 303 and r.headers["location"] == "/?reason=too_short"
            assert c.get("/?reason=too_short").status_code == 200  # the cookie now
    assert pair_state(db_url, queue_db["fresh"])[0] == "pending"  # the refused POST wrote nothing
    assert events(db_url, queue_db["fresh"]) == []


def test_cli_prints_a_token_for_another_host_and_refuses_an_empty_one(cli, db_url, monkeypatch):
    import uvicorn

    started: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))  # no server: just the plan
    code, out, _ = cli("review", "serve", "--host", "0.0.0.0", "--port", "8999")
    assert code == 0 and started == [{"host": "0.0.0.0", "port": 8999, "log_level": "warning"}]
    assert "http://127.0.0.1:8999/?token=" in out.replace("\n", "")
    code, _, err = cli("review", "serve", "--host", "0.0.0.0", "--token", " ")
    assert code == 1 and "--token is empty" in err
    code, out, _ = cli("review", "serve")
    assert code == 0 and "http://127.0.0.1:8765/\n" in out and "token" not in out


def test_loopback_only_and_json_only(db_url, queue_db):
    from dobae.review_app.app import create_app
    from dobae.review_app.serve import serving

    with serving(create_app(db_url, "tester")) as base, httpx.Client(base_url=base) as c:
        assert c.get("/").status_code == 200
        # DNS rebinding: a page of another site that resolves its name to 127.0.0.1
        assert c.get("/", headers={"Host": "evil.example:8765"}).status_code == 403
        assert c.get("/", headers={"Host": "localhost:8765"}).status_code == 200
        # a cross-site HTML form can post only form encodings: refused
        form = c.post(f"/api/pairs/{queue_db['fresh']}", data={"action": "approve", "version": "1"})
        assert form.status_code == 415
        stale = c.post(
            f"/api/pairs/{queue_db['generated']}", json={"action": "approve", "version": 1, "seen_event": 0}
        )
        assert stale.status_code == 409
        assert stale.json()["conflict"]["by"] == "machine:augment"
        assert stale.json()["conflict"]["status"] == "needs_review"
        long_name = {"action": "approve", "version": 1, "seen_event": 0, "reviewer": " 김" * 80}
        assert c.post(f"/api/pairs/{queue_db['fresh']}", json=long_name).status_code == 200
    assert pair_state(db_url, queue_db["generated"])[0] == "needs_review"
    assert pair_state(db_url, queue_db["fresh"])[:2] == ("approved", ("김 " * 50).strip())  # the column's 100


def test_progress_is_one_set_of_numbers_for_page_status_and_report(db_url, queue_db, cli):
    from db.review import set_review
    from db.review_queue import progress
    from db.session import session_scope
    from dobae.status import collect, progress_rows

    with session_scope(db_url) as s:
        set_review(s, queue_db["short0"], "approved", ["too_short"], actor="kim")
        set_review(s, queue_db["short1"], "rejected", ["too_short"], actor="kim")
        set_review(s, queue_db["short1"], "approved", ["too_short"], actor="lee")  # one pair, two people
        p = progress(s)
        tomorrow = progress(s, now=datetime.now(UTC) + timedelta(days=1))
    # machine verdicts (the fixture's) are no one's review
    assert (p.reviewed_today, p.needs_review, p.pending, p.left) == (2, 4, 1, 5)
    assert [(r.reviewer, r.today, r.total) for r in p.per_reviewer] == [("kim", 2, 2), ("lee", 1, 1)]
    assert tomorrow.reviewed_today == 0 and [(r.reviewer, r.today) for r in tomorrow.per_reviewer] == [
        ("kim", 0),
        ("lee", 0),
    ]
    rows = progress_rows(collect(db_url).review_progress)
    assert [r.pairs for r in rows[:2]] == [2, "5 (4 + 1)"]
    assert (rows[2].what, rows[2].who, rows[2].pairs) == ("reviewed by", "kim", "2 today, 2 in all")
    code, out, _ = cli("status")
    assert code == 0 and "Review progress" in out and "2 today, 2 in all" in out
    code, out, _ = cli("review", "status")
    assert (
        code == 0 and ": 2; left in the queue: 5 (4 needs review, 1 pending); kim 2 today / 2 in all" in out
    )

    from dobae.report import build_report

    html = build_report(db_url, embedder="none")
    assert "Review progress" in html and "2 today, 2 in all" in html


@pytest.mark.parametrize("status", ["needs_review", "any"])
def test_queue_filters_and_reason_counts(db_url, queue_db, status):
    from db.review_queue import QueueFilter, load_queue
    from db.session import session_scope

    with session_scope(db_url) as s:
        q = load_queue(s, QueueFilter(status="" if status == "any" else status))
        assert dict(q.reason_counts)["too_short"] == 3
        assert len(q.rows) == (6 if status == "needs_review" else 8)
        assert [r.id for r in load_queue(s, QueueFilter(status="", origin="augment")).rows] == sorted(
            [queue_db["generated"], queue_db["grounded"]]
        )
        assert [r.id for r in load_queue(s, QueueFilter(operation="paraphrase")).rows] == [
            queue_db["generated"]
        ]
        assert [r.id for r in load_queue(s, QueueFilter(category="곰팡이")).rows] == [queue_db["grounded"]]
        newest = load_queue(s, QueueFilter(reason="too_short", sort="-id")).rows
        assert [r.id for r in newest] == sorted((queue_db[f"short{i}"] for i in range(3)), reverse=True)


def test_bulk_approval_is_all_or_nothing(db_url, queue_db):
    from db.review import apply_change
    from db.session import session_scope
    from dobae.review_app.app import create_app
    from dobae.review_app.serve import serving

    shorts = [queue_db[f"short{i}"] for i in range(3)]
    with serving(create_app(db_url, "tester")) as base, httpx.Client(base_url=base) as c:
        counted = c.post("/api/bulk/preview", json={"reason": "too_short"}).json()
        assert counted["count"] == 3 and [p for p, _v in counted["pairs"]] == shorts
        with session_scope(db_url) as s:  # someone edits one of them after the count
            apply_change(s, shorts[1], actor="lee", answer_text="네, 맞습니다.")
        r = c.post("/api/bulk/approve", json={"pairs": counted["pairs"], "reviewer": "kim"})
        assert r.status_code == 409 and "nothing was approved" in r.json()["error"]
        assert [pair_state(db_url, p)[0] for p in shorts] == ["needs_review"] * 3
        assert [e[0] for e in events(db_url, shorts[0])] == ["machine:curate"]
        again = c.post("/api/bulk/preview", json={"reason": "too_short"}).json()  # count again: approved
        r = c.post("/api/bulk/approve", json={"pairs": again["pairs"], "reviewer": "kim"})
        assert r.json() == {"approved": 3}
    assert [pair_state(db_url, p)[:2] for p in shorts] == [("approved", "kim")] * 3
    assert pair_state(db_url, shorts[1])[2] == "네, 맞습니다."


def test_an_approval_of_another_text_is_pending_in_the_queue_and_progress(db_url, queue_db):
    from sqlalchemy import update

    from db.models import QAPair
    from db.review import set_review
    from db.review_queue import QueueFilter, load_queue, progress
    from db.session import session_scope

    pid = queue_db["fresh"]
    with session_scope(db_url) as s:
        set_review(s, pid, "approved", actor="kim")
        assert progress(s).pending == 0
        assert [r.id for r in load_queue(s, QueueFilter(status="approved", origin="crawl")).rows] == [pid]
    with session_scope(db_url) as s:  # a text changed behind the review's back (plain SQL)
        s.execute(update(QAPair).where(QAPair.id == pid).values(answer_text="바뀐 답변입니다."))
    with session_scope(db_url) as s:
        assert [r.id for r in load_queue(s, QueueFilter(status="pending")).rows] == [pid]
        assert load_queue(s, QueueFilter(status="approved", origin="crawl")).rows == []
        assert progress(s).pending == 1


def test_the_command_serves_and_its_printed_token_opens_the_page(db_url, queue_db, tmp_path):
    """`dobae review serve --host 0.0.0.0` as a real process: the page is refused without the token
    it printed and opens with it."""
    import os
    import re
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DOBAE_DATABASE_URL": db_url, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dobae.cli", "review", "serve", "--host", "0.0.0.0", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        printed = ""
        while "token=" not in printed:
            line = proc.stdout.readline()
            assert line, f"the command ended: {printed}"
            printed += line
        address = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", printed).group(0)
        deadline = time.monotonic() + 60
        with httpx.Client() as c:
            while True:
                try:
                    refused = c.get(f"http://127.0.0.1:{port}/")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and proc.poll() is None
                    time.sleep(0.1)
            assert refused.status_code == 401
            opened = c.get(address, follow_redirects=True)
            assert opened.status_code == 200 and f"pair #{queue_db['crawled']}" in opened.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_on_a_mistyped_database_is_one_line_and_creates_nothing(cli, tmp_path, monkeypatch):
    from foundation.settings import reset_settings

    monkeypatch.setenv("DOBAE_DATABASE_URL", f"sqlite:///{tmp_path}/dat/dobea.db")
    reset_settings()
    try:
        code, _out, err = cli("review", "serve")
    finally:
        reset_settings()
    assert (
        code == 1 and f"no database at {tmp_path}/dat/dobea.db" in err and len(err.strip().splitlines()) == 1
    )
    assert list(tmp_path.iterdir()) == []
