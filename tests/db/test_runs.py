"""db/runs.py: when a `running` crawl run or augmentation job is in fact over."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from db.models import AugmentJob, CrawlRun, RunStatus
from db.runs import STALE_AFTER_S, gone_reason, hostname, pid_alive, run_state


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_run_is_over_when_its_process_is_gone_or_its_heartbeat_stopped():
    now = datetime.now(UTC)
    alive = CrawlRun(status=RunStatus.running, pid=os.getpid(), host=hostname(), heartbeat_at=now)
    assert gone_reason(alive, now) is None and run_state(alive, now) == RunStatus.running
    killed = CrawlRun(status=RunStatus.running, pid=dead_pid(), host=hostname(), heartbeat_at=now)
    assert "is gone" in gone_reason(killed, now) and run_state(killed, now) == RunStatus.interrupted
    # another machine's run: only the heartbeat tells (SQLite gives naive UTC datetimes back)
    elsewhere = CrawlRun(
        status=RunStatus.running, pid=1, host="other-host", heartbeat_at=now.replace(tzinfo=None)
    )
    assert gone_reason(elsewhere, now + timedelta(seconds=STALE_AFTER_S - 1)) is None
    assert "no heartbeat since" in gone_reason(elsewhere, now + timedelta(seconds=STALE_AFTER_S + 1))
    finished = CrawlRun(status=RunStatus.finished, pid=dead_pid(), host=hostname())
    assert run_state(finished, now) == RunStatus.finished
    # augmentation jobs: pid only (no heartbeat: a job may wait long for a slow server)
    job = AugmentJob(
        status=RunStatus.running, pid=os.getpid(), host=hostname(), started_at=now - timedelta(days=1)
    )
    assert run_state(job, now) == RunStatus.running
    job.pid = dead_pid()
    assert run_state(job, now) == RunStatus.interrupted
    assert not pid_alive(dead_pid()) and pid_alive(os.getpid())
