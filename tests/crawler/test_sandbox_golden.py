"""Golden rows of the sandbox, `--scale` generation and the `dobae sandbox` commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.content import GENERATED_FIRST_ID, generate
from crawler.sandbox.golden import (
    board_rows,
    deleted_ids,
    golden_rows,
    load_golden,
    stale_files,
    unreachable_ids,
    write_golden,
)

ROOT = Path(__file__).resolve().parents[2]


def test_committed_golden_files_are_in_sync():
    assert stale_files() == [], "run `dobae sandbox golden` and commit crawler/sandbox/golden/"


def test_golden_rows_follow_the_content_rules():
    rows = load_golden()
    assert len(rows) == 62 and [int(r["external_id"]) for r in rows] == sorted(
        int(r["external_id"]) for r in rows
    )
    assert len({(r["source"], r["external_id"]) for r in rows}) == len(rows)
    by_id = {r["external_id"]: r for r in rows}
    assert set(deleted_ids()) == {"1013", "1014"} and set(unreachable_ids()) == {"1012", "1015"}
    assert not (set(deleted_ids()) | set(unreachable_ids())) & set(by_id)
    topics = ("도배", "벽지", "곰팡이", "결로", "몰딩", "석고보드", "이음새", "초배")
    about_wallpaper = [r for r in rows if any(t in r["title"] + " ".join(r["keywords"]) for t in topics)]
    assert len(about_wallpaper) >= 40
    assert by_id["1030"]["title"] == "벽지 & 몰딩 색 조합 추천해 주세요"
    assert "교체할 예정이에요.\n예산은" in by_id["1030"]["body"] and "💧" in by_id["1030"]["body"]
    assert by_id["1031"]["body"].startswith("도배한 지 사흘") and "\u200b" not in by_id["1031"]["body"]
    assert by_id["1020"]["author_id"] is None and by_id["1020"]["author_name"] == "탈퇴한 사용자"
    assert by_id["1020"]["posted_at"] == "2026-04-28T03:00:00+00:00" and by_id["1020"]["view_count"] is None
    assert by_id["1021"]["body"] == "" and by_id["1032"]["body"] == ""
    assert by_id["1043"]["view_count"] == 12000
    deleted = by_id["1022"]["comments"][0]
    assert deleted["is_deleted"] and deleted["body"] is None and deleted["author_name"] is None
    assert by_id["1023"]["comment_count"] == 12 == len(by_id["1023"]["comments"])
    assert len(by_id["1041"]["title"]) >= 250
    assert len(by_id["1040"]["comments"][0]["body"].split("\n")) == 800
    replies = [c for r in rows for c in r["comments"] if c["parent_external_id"]]
    badges = {c["author_badge"] for r in rows for c in r["comments"]}
    assert len(replies) >= 10 and {"expert", "seller", None} <= badges
    assert all(0 <= len(r["comments"]) <= 12 for r in rows)


def test_content_hash_changes_with_an_edit_not_with_views():
    site = Site()
    before = {r["external_id"]: r["content_hash"] for r in golden_rows(site)}
    site.questions[1002].view_count += 100
    site.edit(1001)
    after = {r["external_id"]: r["content_hash"] for r in golden_rows(site)}
    assert before["1001"] != after["1001"] and before["1002"] == after["1002"]
    assert {k for k in before if before[k] != after[k]} == {"1001"}


def test_board_golden_rows():
    kin = board_rows("kin")
    assert [r["external_id"] for r in kin] == ["5001", "5002", "5003", "5005"]
    assert kin[0]["comments"][0] == {
        "external_id": "5001:a1", "body": kin[0]["comments"][0]["body"], "author_id": "u9", "author_name": "벽지박사",
        "is_adopted": True, "posted_at": "2026-04-28T15:00:00+00:00", "is_deleted": False,
    }  # fmt: skip
    assert kin[0]["comments"][1]["posted_at"] == "2026-05-01T00:00:00+00:00"  # "3시간 전" at 12:00 KST
    cook = board_rows("82cook")
    assert [r["external_id"] for r in cook] == ["301", "302", "303", "304"]
    assert cook[0]["posted_at"] == "2026-05-01T00:30:12+00:00"  # "09:30:12" today (KST)
    with pytest.raises(ValueError):
        board_rows("nope")


def test_write_golden_round_trip(tmp_path):
    paths = write_golden(tmp_path)
    eras = [f"ohouse-{e}{j}.jsonl" for e in ("2019", "2021", "2024") for j in ("-nojson", "")]
    assert sorted(p.name for p in paths) == sorted(["82cook.jsonl", "kin.jsonl", "ohouse.jsonl", *eras])
    assert stale_files(tmp_path) == []
    (tmp_path / "kin.jsonl").write_text("{}\n", encoding="utf-8")
    assert stale_files(tmp_path) == ["kin.jsonl"]
    assert load_golden("ohouse.jsonl", tmp_path) == load_golden()


def test_scale_generation_is_deterministic_and_served():
    a, b = generate(300, seed=7), generate(300, seed=7)
    assert [(q.id, q.title, q.text, [c.text for c in q.comments]) for q in a] == [
        (q.id, q.title, q.text, [c.text for c in q.comments]) for q in b
    ]
    assert [q.title for q in generate(50, seed=8)] != [q.title for q in a[:50]]
    assert a[0].id == GENERATED_FIRST_ID and all(0 <= len(q.comments) <= 6 for q in a)
    site = Site(scale=2500)
    assert len(site.questions) == 2500
    assert golden_rows(site) == golden_rows(Site(scale=2500))
    with serve_sandbox(site=site) as base, httpx.Client(base_url=base) as c:
        assert c.get("/questions.json").json()["total_count"] == 2499  # the late post still hidden
        index = c.get("/sitemap.xml").text
        assert index.count("<sitemap>") == 3
        last = c.get("/questions.json", params={"page": 250, "per": 10}).json()["questions"]
        assert len(last) == 10 and c.get(f"/questions/{last[-1]['id']}").status_code == 200


def test_the_content_reads_the_same_with_libyaml_as_with_pure_python():
    """The sandbox reads its content with libyaml's loader (7x faster): the same data, Hangul whole."""
    import yaml

    from crawler.sandbox.content import CONTENT, _LOADER

    text = CONTENT.read_text(encoding="utf-8-sig")
    assert _LOADER is yaml.CSafeLoader  # PyYAML's wheels ship libyaml
    assert yaml.load(text, Loader=_LOADER) == yaml.safe_load(text)


def test_bad_content_is_a_clear_error(tmp_path, monkeypatch):
    from crawler.sandbox import content as site_module
    from foundation.errors import ConfigError

    bad = tmp_path / "q.yaml"
    bad.write_text(
        "users: {}\nnotices: []\nquestions:\n- {id: 1, title: t, by: 누구, at: '2026-01-01 00:00'}\n"
    )
    with pytest.raises(ConfigError, match=r"q.yaml: question 1: unknown user '누구'"):
        site_module.load_seed(bad)
    bad.write_text("questions: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"q.yaml: cannot read the sandbox content"):
        site_module.load_notices(bad)
    with pytest.raises(ConfigError, match="--scale -1"):
        Site(scale=-1)


def test_cli_golden_check():
    from dobae.cli import app

    result = CliRunner().invoke(app, ["sandbox", "golden", "--check"])
    assert result.exit_code == 0, result.output


def test_cli_serve_prints_the_url_and_serves():
    proc = subprocess.Popen(
        [sys.executable, "-m", "dobae.cli", "sandbox", "serve", "--port", "0", "--scale", "100"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/questions.json", params={"per": 1}).json()["total_count"] == 99
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_port_in_use_is_one_line_error():
    with serve_sandbox() as base:
        port = base.rsplit(":", 1)[1]
        proc = subprocess.run(
            [sys.executable, "-m", "dobae.cli", "sandbox", "serve", "--port", port],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr
