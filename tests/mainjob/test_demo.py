"""`dobae demo`'s cheap steps (import, export) are idempotent; a failed step blocks its dependants."""

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
    from foundation.settings import get_settings

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


def test_a_failed_step_blocks_its_dependants(db_url, dacon_files):
    """A step that fails (here the export: a folder stands where its file goes) is `failed` with its
    one-line reason, and the steps that need it are `blocked`, not run."""
    from dobae.demo import DemoContext, run_demo
    from foundation.settings import get_settings

    settings = get_settings()
    ctx = DemoContext(settings, *dacon_files, settings.data_dir / "demo")
    (ctx.out / "approved.jsonl").mkdir(parents=True)
    res = {r.name: r for r in run_demo(*dacon_files, settings=settings, only=["import", "export", "train"])}
    assert res["import"].status == "done"
    assert res["export"].status == "failed" and "approved.jsonl" in res["export"].detail
    assert res["train"].status == "blocked" and res["train"].detail == "needs export"


def test_steps_say_whether_they_skipped_as_data(db_url, dacon_files):
    """A step's outcome carries `skipped` as a field: the demo never reads it from the message."""
    from dobae.demo.steps import DemoContext, step_import
    from foundation.settings import get_settings

    settings = get_settings()
    ctx = DemoContext(settings, *dacon_files, settings.data_dir / "demo")
    first, second = step_import(ctx), step_import(ctx)
    assert not first.skipped and first.detail.startswith("imported (")
    assert second.skipped and second.detail.startswith("skip: already imported")


def test_the_demo_command_defaults_to_the_demos_infer_limit():
    """`dobae demo -h` names the same default as `dobae.demo.INFER_LIMIT` (the CLI does not import
    the demo for it)."""
    import ast
    from pathlib import Path

    import dobae.cli
    from dobae.demo import INFER_LIMIT

    source = Path(dobae.cli.__file__).read_text(encoding="utf-8")
    assert "dobae.demo" not in {
        n.module for n in ast.parse(source).body if isinstance(n, ast.ImportFrom)
    }  # only lazy imports inside the command
    assert f"default {INFER_LIMIT};" in source


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
    from dobae.demo.steps import DemoContext, step_crawl
    from foundation.settings import get_settings

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
        assert first.detail.startswith("crawled:") and not first.skipped
        with session_scope(db_url) as s:
            questions = s.scalar(select(func.count()).select_from(Question))
            runs = s.scalar(select(func.count()).select_from(CrawlRun))
        assert questions > 0 and runs == 1
        second = step_crawl(ctx)
        assert second.skipped and second.detail.startswith("skip: crawl run")
        with session_scope(db_url) as s:
            assert s.scalar(select(func.count()).select_from(Question)) == questions
            assert s.scalar(select(func.count()).select_from(CrawlRun)) == 1
    finally:
        proc.terminate()
        proc.wait(10)


def test_unknown_step_is_a_clear_error(db_url):
    import pytest

    from dobae.demo import run_demo
    from foundation.errors import InputError

    with pytest.raises(InputError, match="--step 'trian': use one of crawl, import"):
        run_demo(only=["trian"])


def _lora_answers(ctx, metric):
    """A LoRA run card with validation metric `metric` and its answers to the first test question,
    written by hand: no model is trained in these tests."""
    import csv
    import json

    (ctx.out / "runs" / "demo").mkdir(parents=True)
    card = {"status": "finished", "name": "demo", "metrics": {"metric": metric, "metric_questions": 3}}
    (ctx.out / "runs" / "demo" / "run_card.json").write_text(json.dumps(card), encoding="utf-8")
    with open(ctx.out / "answers-llm1of2.csv", "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(
            [
                ["id", "질문", "answer"],
                ["TEST_000", "벽지에 곰팡이가 생겼는데 어떻게 하나요?", "곰팡이, 곰팡이, 곰팡이."],
            ]
        )


def _read(path):
    import csv

    with open(path, encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_submit_uses_the_best_measured_answerer_not_a_worse_lora_run(db_url, dacon_files):
    from db.dacon import import_dacon
    from dobae.demo.steps import DemoContext, step_submit
    from foundation.settings import get_settings

    import_dacon(*dacon_files, url=db_url)
    settings = get_settings()
    ctx = DemoContext(settings, *dacon_files, settings.data_dir / "demo", state={"infer_limit": 1})
    _lora_answers(ctx, 0.003)
    detail = step_submit(ctx).detail
    folder = ctx.out / "submission-llm1of2"
    by = _read(folder / "answered_by.csv")
    chosen = by[0]["answered_by"]
    assert chosen in ("retrieval", "compose") and {r["answered_by"] for r in by} == {chosen}
    assert by[0]["selected_by"].startswith(f"{chosen}: ") and "2-fold CV" in by[0]["selected_by"]
    assert f"chosen: {chosen}" in detail and "2 answered by " + chosen in detail
    assert "validation metric 0.0030 is below" in detail and "llm 0.0030" in detail
    rows = _read(folder / "answers.csv")
    assert all("곰팡이, 곰팡이" not in r["answer"] for r in rows)
    again = step_submit(ctx)
    assert again.skipped and again.detail.startswith("skip: ") and "already written" in again.detail


def test_submit_uses_the_lora_run_when_it_measures_best(db_url, dacon_files):
    from db.dacon import import_dacon
    from dobae.demo.steps import DemoContext, step_submit
    from foundation.settings import get_settings

    import_dacon(*dacon_files, url=db_url)
    settings = get_settings()
    ctx = DemoContext(settings, *dacon_files, settings.data_dir / "demo", state={"infer_limit": 1})
    _lora_answers(ctx, 0.99)
    detail = step_submit(ctx).detail
    by = _read(ctx.out / "submission-llm1of2" / "answered_by.csv")
    assert by[0]["answered_by"] == "llm" and by[0]["selected_by"].startswith("llm: 0.9900 by run card")
    assert by[1]["answered_by"] in ("retrieval", "compose", "constant")
    assert "1 answered by llm" in detail and "chosen: llm" in detail
    assert _read(ctx.out / "submission-llm1of2" / "answers.csv")[0]["answer"] == "곰팡이, 곰팡이, 곰팡이."


def test_augment_state_belongs_to_its_input(db_url, dacon_files):
    """A finished augmentation of the shipped sample does not count as done for other files."""
    from augment.jobs import finish_job, start_job
    from augment.operations import select_pairs
    from db.dacon import import_dacon, import_sample
    from db.models import RunStatus
    from db.session import session_scope
    from dobae.demo.steps import DemoContext, _augment_done, _augment_selection
    from foundation.settings import get_settings

    import_sample(url=db_url)
    import_dacon(*dacon_files, url=db_url)
    settings = get_settings()
    sample = DemoContext(settings, None, None, settings.data_dir / "demo")
    files = DemoContext(settings, *dacon_files, settings.data_dir / "demo")
    sel_sample, sel_files = _augment_selection(sample, 2), _augment_selection(files, 2)
    job = start_job(db_url, "compound", {"selection": sel_sample.params()}, 2)
    finish_job(db_url, job, RunStatus.finished)
    assert _augment_done(sample, sel_sample) == {"compound"}
    assert _augment_done(files, sel_files) == set()
    with session_scope(db_url) as s:
        picked_files = select_pairs(s, sel_files)
        picked_sample = select_pairs(s, sel_sample)
    assert {p.group_id for p in picked_files} <= {"dacon:TRAIN_000", "dacon:TRAIN_001", "dacon:TRAIN_002"}
    assert picked_files and not {p.id for p in picked_files} & {p.id for p in picked_sample}


def test_inference_is_recorded_for_status(db_url, tmp_path):
    from dobae.status import collect
    from infer.generate import InferOptions, InferSummary, record_inference_run

    summary = InferSummary(out=tmp_path / "answers.csv", details=tmp_path / "answers.jsonl", questions=8, resumed=0,
                           seconds=61.5, new_tokens=768, backend="transformers")  # fmt: skip
    record_inference_run(summary, tmp_path / "run", tmp_path / "test.csv", InferOptions(max_new_tokens=64))
    [row] = collect(db_url).inference_runs
    assert (row.backend, row.status, row.questions) == ("transformers", "finished", 8)
    assert row.out == str((tmp_path / "answers.csv").resolve())


def test_ablate_step_stores_each_source_for_the_chosen_answerer(db_url, dacon_files):
    """The demo's last step measures what the approved crawled pairs add for the answerer auto
    chooses, stores every configuration as an evaluation (the report's Data sources), and is
    skipped on a re-run; with nothing approved to add it says so."""
    from sqlalchemy import select

    from db.dacon import import_dacon
    from db.models import Evaluation, Origin, QAPair, ReviewStatus
    from db.review import add_initial_reviews
    from db.session import session_scope
    from dobae.demo.steps import DemoContext, step_ablate
    from foundation.settings import get_settings

    import_dacon(*dacon_files, url=db_url)
    settings = get_settings()
    ctx = DemoContext(settings, *dacon_files, settings.data_dir / "demo")
    nothing = step_ablate(ctx)
    assert nothing.skipped and nothing.detail.startswith("skip: no approved crawl")
    with session_scope(db_url) as s:
        p = QAPair(
            key="crawl:t:1",
            question_text="벽지에 곰팡이가 피었어요",
            answer_text="환기하고 곰팡이 제거제로 닦은 뒤 다시 도배합니다.",
            origin=Origin.crawl,
            group_id="crawl:t:1",
        )
        s.add(p)
        s.flush()
        add_initial_reviews(s, [p.id], ReviewStatus.approved, actor="kim")
    detail = step_ablate(ctx).detail
    assert "base " in detail and "+ crawl " in detail
    with session_scope(db_url) as s:
        rows = s.scalars(select(Evaluation)).all()
        added = [tuple((r.config or {}).get("add_origins") or ()) for r in rows]
    assert () in added and ("crawl",) in added
    again = step_ablate(ctx)
    assert again.skipped and again.detail.startswith("skip: done")
