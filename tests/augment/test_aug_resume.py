"""A SIGKILLed augmentation job resumes with no duplicate and no lost row (real subprocess)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from aug_fault_server import FaultServer
from aug_helpers import PAIRS, insert_pairs, llm_env
from sqlalchemy import func, select

from augment.operations import Selection
from augment.runner import run_operation
from db.models import AugmentJob, Generation, Origin, QAPair, Review, RunStatus
from db.session import session_scope

ROOT = Path(__file__).resolve().parents[2]
N = 12


def _count_generations(url: str) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(Generation))


def test_sigkilled_job_resumes_without_duplicates_or_losses(db_url, monkeypatch):
    rows = [(f"k{i}", g[1], f"{g[2]} ({i + 1}번 세대 문의)", g[3]) for i, g in enumerate(PAIRS * 3)][:N]
    insert_pairs(db_url, rows=rows)
    with FaultServer(delay_s=0.25) as srv:
        llm_env(monkeypatch, srv.base_url, DOBAE_LLM__CONCURRENCY="2")
        proc = subprocess.Popen(
            [sys.executable, "-m", "dobae.cli", "augment", "paraphrase-questions", "--limit", str(N)],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while _count_generations(db_url) < 3:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the job never stored a result"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = _count_generations(db_url)
        assert 3 <= killed_at < N, "kill the job midway"
        with session_scope(db_url) as s:
            job = s.scalars(select(AugmentJob)).one()
            assert job.status == RunStatus.running and job.pid == proc.pid  # it never finished
        # …but its process is gone: shown as interrupted, not running
        from augment.jobs import status_report
        from dobae.status import collect

        [op] = status_report(db_url)
        assert (op.running, op.interrupted) == (0, 1)
        assert [r.status for r in collect(db_url).augment_jobs] == ["interrupted"]
        sent_before = len(srv.requests)

        summary = run_operation("paraphrase-questions", Selection(limit=N))
        assert summary.already_done == killed_at
        # calls only for the items not yet paid for (in-flight answers may already be cached)
        assert summary.calls + summary.cache_hits == N - killed_at
        assert len(srv.requests) - sent_before == summary.calls

    with session_scope(db_url) as s:
        gens = list(s.scalars(select(Generation)))
        items = Counter(g.params["item"] for g in gens)
        assert len(items) == N and set(items.values()) == {1}, items  # one generation per source pair
        derived = list(s.scalars(select(QAPair).where(QAPair.origin == Origin.augment)))
        assert len(derived) == N * 4  # 2 formal + 2 colloquial each, none lost, none doubled
        assert len({p.key for p in derived}) == len(derived)
        per_parent = Counter(p.parent_id for p in derived)
        assert set(per_parent.values()) == {4}
        assert s.scalar(select(func.count()).select_from(Review)) == len(derived)
        job = s.scalars(select(AugmentJob)).one()
        assert job.status == RunStatus.finished and job.done == N and job.total == N
