"""The one read model (`db/summary.py`): every view says the same status word.

A run whose process was SIGKILLed reads `interrupted` in `dobae status`, `dobae crawl runs` and the
report; a pair without a review reads `pending` in `dobae status`, `dobae review status`, the
report and the demo. The killed process is real (a child SIGKILLed by the test); its rows are
written as the crawl pipeline, the augment runner and the trainer write them when they start.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime


def _killed_runs(url: str) -> None:
    """A crawl run, an augmentation job and a training run `running` in a process, then SIGKILL it."""
    from db.models import AugmentJob, CrawlRun, RunStatus, TrainingRun
    from db.runs import hostname
    from db.session import session_scope
    from db.summary import summarise

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        now = datetime.now(UTC)
        mine = {"status": RunStatus.running, "pid": proc.pid, "host": hostname()}
        with session_scope(url) as s:
            s.add(CrawlRun(spider="killedspider", heartbeat_at=now, job_dir="/tmp/jobdir-x", **mine))
            s.add(AugmentJob(operation="compound", total=4, **mine))
            s.add(TrainingRun(name="killed-run", base_model="tiny", output_dir="/nonexistent", **mine))
        alive = summarise(url)
        assert [r.status for r in alive.crawl_runs if r.spider == "killedspider"] == ["running"]
        assert [r.status for r in alive.training_runs if r.name == "killed-run"] == ["running"]
        assert [r.status for r in alive.augment_jobs] == ["running"]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_sigkilled_run_reads_interrupted_in_every_view(filled_db, cli, monkeypatch):
    from db.summary import summarise
    from dobae.report import build_report
    from foundation.console import out as stdout

    monkeypatch.setattr(stdout, "width", 200)  # whole table rows, as on a wide terminal

    _killed_runs(filled_db)

    data = summarise(filled_db)
    [crawl] = [r for r in data.crawl_runs if r.spider == "killedspider"]
    assert crawl.status == "interrupted" and "is gone" in crawl.note
    assert [r.status for r in data.training_runs if r.name == "killed-run"] == ["interrupted"]
    assert [r.status for r in data.augment_jobs] == ["interrupted"]

    code, out, _ = cli("status")
    assert code == 0
    assert re.search(r"killedspider\s*│\s*interrupted", out)
    assert re.search(r"killed-run\s*│\s*interrupted", out)
    assert re.search(r"compound\s*│\s*1\s*│\s*interrupted", out)
    assert "running" not in out

    code, out, _ = cli("crawl", "runs")
    assert code == 0 and re.search(r"killedspider\s*│\s*interrupted", out) and "running" not in out
    assert f"run {crawl.id} interrupted: its process" in out and "resume: run the same crawl again" in out

    html = build_report(filled_db, embedder="none")
    assert re.search(r"<td>killedspider</td>\s*<td>interrupted</td>", html)
    assert re.search(r"<td>killed-run</td>\s*<td>[^<]*</td>\s*<td>interrupted</td>", html)
    assert ">running<" not in html


def test_a_pair_without_a_review_is_pending_in_every_view(filled_db, cli, dacon_files, monkeypatch):
    from db.models import Origin, QAPair
    from db.session import session_scope
    from db.summary import PairCount, summarise
    from dobae.demo.steps import DemoContext, step_review
    from dobae.report import build_report
    from foundation.console import console
    from foundation.console import out as stdout
    from foundation.settings import get_settings

    monkeypatch.setattr(stdout, "width", 200)
    monkeypatch.setattr(console, "width", 200)
    with session_scope(filled_db) as s:  # no Review row at all
        s.add(QAPair(key="manual:1", question_text="벽지 얼룩은?", answer_text="중성세제로 닦습니다.",
                     origin=Origin.manual, group_id="manual:1"))  # fmt: skip

    assert PairCount("manual", "pending", 1) in summarise(filled_db).pairs

    code, out, _ = cli("status")
    assert code == 0 and re.search(r"manual\s*│\s*pending\s*│\s*1", out)

    code, _, err = cli("review", "status")  # a table on stderr
    header = next(line for line in err.splitlines() if "origin" in line)
    row = next(line for line in err.splitlines() if "manual" in line)
    cells = dict(zip(re.findall(r"\w+", header), re.findall(r"\w+", row), strict=True))
    assert code == 0 and cells["pending"] == "1" and cells["approved"] == "0"

    html = build_report(filled_db, embedder="none")
    review_table = html[html.index("Review status") :]
    assert re.search(r"<td>pending</td>\s*<td>1</td>", review_table)
    assert "<td>none</td>" not in review_table

    settings = get_settings()
    detail = step_review(DemoContext(settings, *dacon_files, settings.data_dir / "demo")).detail
    assert "manual pending 1" in detail and "1 pairs wait for a human" in detail
