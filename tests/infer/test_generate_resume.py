"""`dobae infer` in a real subprocess: SIGKILL mid-job, start again, end with exactly the answers of
an uninterrupted run (greedy), each question once; plus its one-line errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from llm_helpers import tiny_base, untrained_run  # noqa: F401 (fixtures)

from infer.partial import partial_path, read_partial

ROOT = Path(__file__).resolve().parents[2]


def _questions(path: Path, n: int, items) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "질문"])
        for i in range(n):
            w.writerow([f"TEST_{i:03d}", f"{items[i % len(items)].questions[i % 2]} ({i}번)"])
    return path


def _cmd(run: Path, questions: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dobae.cli",
        "infer",
        "--run",
        str(run),
        "--questions",
        str(questions),
        "--out",
        str(out),
        "--batch-size",
        "2",
        "--chunk-size",
        "2",
        "--max-new-tokens",
        "60",
        "--select",
        "first",
    ]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DOBAE_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}


def _answers(path: Path) -> dict[str, str]:
    return {r["id"]: r["answer"] for r in csv.DictReader(path.open(encoding="utf-8"))}


N = 12  # six chunks of two: the kill comes after the second, with four still to generate


def test_killed_infer_resumes_without_losses_or_duplicates(
    untrained_run,  # noqa: F811
    items,
    tmp_path,
    cli,
    monkeypatch,
):
    """The uninterrupted reference run is in-process (the same command, greedy, one thread: the
    same answers; one torch start less); the killed job and its resume are real processes."""
    from db.session import dispose_engines
    from foundation.settings import reset_settings

    questions = _questions(tmp_path / "q.csv", N, items)
    ref = tmp_path / "ref" / "answers.csv"
    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DOBAE_DATABASE_URL", raising=False)
    reset_settings()
    code, _out, err = cli(*_cmd(untrained_run, questions, ref)[3:])
    dispose_engines()
    reset_settings()
    assert code == 0, err

    out = tmp_path / "out" / "answers.csv"
    proc = subprocess.Popen(
        _cmd(untrained_run, questions, out),
        env=_env(tmp_path),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    partial = partial_path(out)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if partial.exists() and len(read_partial(partial)) >= 4:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the job finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = read_partial(partial)
    assert 4 <= len(done_before) < N and not out.exists()

    res = subprocess.run(
        _cmd(untrained_run, questions, out),
        env=_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert f"{len(done_before)} resumed" in res.stdout
    got = _answers(out)
    assert got == _answers(ref)  # same answers, every id once, in file order
    assert list(got) == [f"TEST_{i:03d}" for i in range(N)]
    assert not partial.exists() and out.with_suffix(".jsonl").exists()

    # each finished job is one inference_runs row; the killed one left none
    import sqlite3

    con = sqlite3.connect(tmp_path / "data" / "dobae.db")
    rows = con.execute(
        "SELECT out_path, n_questions, status, metrics FROM inference_runs ORDER BY id"
    ).fetchall()
    con.close()
    assert [(Path(r[0]).name, r[1], r[2]) for r in rows] == [("answers.csv", N, "finished")] * 2
    assert [Path(r[0]).parent.name for r in rows] == ["ref", "out"]
    assert json.loads(rows[1][3])["resumed"] == len(done_before)


def test_infer_cli_errors_are_one_line(untrained_run, items, tmp_path, capsys):  # noqa: F811
    from dobae.cli import main

    questions = _questions(tmp_path / "q.csv", 2, items)
    out = tmp_path / "a.csv"
    out.write_text("x", encoding="utf-8")
    for args, msg in (
        (["--out", str(out)], "--force"),
        (["--out", str(tmp_path / "b.csv"), "--select", "length=1"], "select"),
        (["--out", str(tmp_path / "c.csv"), "--run", str(tmp_path)], "run_card.json"),
    ):
        argv = ["infer", "--run", str(untrained_run), "--questions", str(questions), *args]
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 1 and msg in err and len(err.strip().splitlines()) == 1
