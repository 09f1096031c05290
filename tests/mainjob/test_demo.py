"""`dobae demo`'s cheap steps (import, export) are idempotent; a missing stage fails loudly."""

from __future__ import annotations

import json

from sqlalchemy import func, select


def _counts(url):
    from db.models import Export, QAPair, Question
    from db.session import session_scope

    with session_scope(url) as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (QAPair, Question, Export))


def test_import_and_export_twice_adds_nothing(db_url, dacon_files):
    from dobae.demo import run_demo
    from dobae.settings import get_settings

    settings = get_settings()
    first = run_demo(*dacon_files, settings=settings, only=["import", "export"])
    assert [(r.name, r.status) for r in first] == [("import", "done"), ("export", "done")]
    after_first = _counts(db_url)
    assert after_first == (30, 2, 1)
    outs = list((settings.data_dir / "demo").glob("dacon-*"))
    assert len(outs) == 1  # outputs of these input files, apart from the sample's and other files'
    exported = outs[0] / "approved.jsonl"
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 30 and json.loads(lines[0])["question"]

    second = run_demo(*dacon_files, settings=settings, only=["import", "export"])
    assert [(r.name, r.status) for r in second] == [("import", "skipped"), ("export", "skipped")]
    assert "already" in second[0].detail and "already exported" in second[1].detail
    assert _counts(db_url) == after_first  # no duplicated pairs, questions or export records

    # other inputs (here the shipped sample) never reuse these files' outputs
    sample = run_demo(settings=settings, only=["export"])
    assert [(r.name, r.status) for r in sample] == [("export", "done")]
    assert (settings.data_dir / "demo" / "sample" / "approved.jsonl").is_file()


def test_missing_stage_fails_its_step_and_blocks_dependants(db_url, dacon_files, monkeypatch):
    import sys

    from dobae.demo import run_demo
    from dobae.settings import get_settings

    monkeypatch.setitem(sys.modules, "db.export", None)  # as if the export stage had not landed
    res = {
        r.name: r for r in run_demo(*dacon_files, settings=get_settings(), only=["import", "export", "train"])
    }
    assert res["import"].status == "done"
    assert (
        res["export"].status == "failed"
        and "stage foundation (db/export) not available" in res["export"].detail
    )
    assert res["train"].status == "blocked"


def test_crawl_step_runs_scrapy_once(db_url, tmp_path):
    """The crawl step's real `scrapy crawl ohouse` subprocess into the database; a second run skips.
    The site is the crawler tests' small ohouse-shaped site (tests/crawler/mini_site.py): the
    sandbox is started by `sandbox_site`, which this test does not cover."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from db.models import CrawlRun, Question
    from db.session import session_scope
    from dobae.demo import DemoContext, step_crawl
    from dobae.settings import get_settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = Path(__file__).resolve().parents[1] / "crawler" / "mini_site.py"
    proc = subprocess.Popen([sys.executable, str(site), str(port), str(tmp_path / "req.log"), "3", "0"])
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/robots.txt", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        ctx = DemoContext(get_settings(), None, None, tmp_path, base_url=f"http://127.0.0.1:{port}")
        first = step_crawl(ctx)
        assert first.startswith("crawled:")
        with session_scope(db_url) as s:
            questions = s.scalar(select(func.count()).select_from(Question))
            runs = s.scalar(select(func.count()).select_from(CrawlRun))
        assert questions > 0 and runs == 1
        second = step_crawl(ctx)
        assert second.startswith("skip: crawl run")
        with session_scope(db_url) as s:
            assert s.scalar(select(func.count()).select_from(Question)) == questions
            assert s.scalar(select(func.count()).select_from(CrawlRun)) == 1
    finally:
        proc.terminate()
        proc.wait(10)


def test_unknown_step_is_a_clear_error(db_url):
    import pytest

    from dobae.demo import run_demo
    from dobae.errors import InputError

    with pytest.raises(InputError, match="--step 'trian': use one of crawl, import"):
        run_demo(only=["trian"])


def test_submit_beyond_infer_limit_uses_retrieval_and_says_so(db_url, dacon_files):
    """The LoRA answers (here written by hand: no model is trained in this test) cover the first
    `infer_limit` test questions; the submit step answers the rest with the retrieval baseline."""
    import csv

    from db.dacon import import_dacon
    from dobae.demo import DemoContext, step_submit
    from dobae.settings import get_settings

    import_dacon(*dacon_files, url=db_url)
    settings = get_settings()
    ctx = DemoContext(settings, *dacon_files, settings.data_dir / "demo", state={"infer_limit": 1})
    (ctx.out / "runs" / "demo").mkdir(parents=True)
    (ctx.out / "runs" / "demo" / "run_card.json").write_text('{"metrics": {}}', encoding="utf-8")
    with open(ctx.out / "answers-llm1of2.csv", "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(
            [
                ["id", "질문", "answer"],
                ["TEST_000", "벽지에 곰팡이가 생겼는데 어떻게 하나요?", "곰팡이를 제거합니다."],
            ]
        )
    detail = step_submit(ctx)
    assert "2 rows" in detail and "1 answered by the LoRA run, 1 by the retrieval baseline" in detail
    folder = ctx.out / "submission-llm1of2"
    with open(folder / "answered_by.csv", encoding="utf-8") as fh:
        assert list(csv.reader(fh)) == [["id", "answered_by"], ["TEST_000", "llm"], ["TEST_001", "retrieval"]]
    with open(folder / "answers.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["answer"] == "곰팡이를 제거합니다."
    # the retrieval answer is one of the imported train answers
    assert rows[1]["answer"] and rows[1]["answer"] != rows[0]["answer"]
    with open(folder / "submission.csv", encoding="utf-8") as fh:
        sub = list(csv.reader(fh))
    assert [r[0] for r in sub] == ["id", "TEST_000", "TEST_001"] and len(sub[0]) == 513
    assert "retrieval baseline 2-fold CV" in detail
    again = step_submit(ctx)
    assert again.startswith("skip: ") and "already written" in again


def test_inference_is_recorded_for_status(db_url, tmp_path):
    from dobae.status import collect
    from infer.generate import InferOptions, InferSummary, record_inference_run

    summary = InferSummary(out=tmp_path / "answers.csv", details=tmp_path / "answers.jsonl", questions=8, resumed=0,
                           seconds=61.5, new_tokens=768, backend="transformers")  # fmt: skip
    record_inference_run(summary, tmp_path / "run", tmp_path / "test.csv", InferOptions(max_new_tokens=64))
    [row] = collect(db_url)["inference_runs"]
    assert row[1:4] == ("transformers", "finished", 8) and row[4] == str((tmp_path / "answers.csv").resolve())
