"""The one liveness rule: is a `running` run still alive? A crawl, augmentation job or training run
killed with SIGKILL (or a lost machine) never writes its end, so its row would say `running` for
ever. A run is shown as `interrupted` when

- it was started on this machine and its process is gone (pid check: crawl runs, augmentation
  jobs, training runs), or
- its heartbeat (written every few seconds by the crawl's database pipeline) is older than
  `STALE_AFTER_S` (any machine: a crawl on another host against the same PostgreSQL).

Inference runs are recorded when they finish (a killed one resumes from its partial file), so
they are never `running`. Every view reads runs through `db/summary.py`, which applies this rule.
Reading never writes; `mark_interrupted` (called when a new crawl starts) stores the verdict.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AugmentJob, CrawlRun, RunStatus, TrainingRun

LiveRun = CrawlRun | AugmentJob | TrainingRun

STALE_AFTER_S = 60.0  # a heartbeat older than this: the crawl is gone (it beats every few seconds)


def hostname() -> str:
    return socket.gethostname()[:255]


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists on this machine and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(0) said it exists


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite drops the zone


def gone_reason(run: LiveRun, now: datetime | None = None) -> str | None:
    """Why a `running` run is in fact over (None: it may still be running, or it is not `running`).
    Augmentation jobs and training runs have no heartbeat (a job may wait minutes for a slow
    server, a training step may take minutes): pid only."""
    if run.status != RunStatus.running:
        return None
    if run.pid and run.host == hostname() and not pid_alive(run.pid):
        return f"its process {run.pid} on {run.host} is gone (killed?)"
    if not isinstance(run, CrawlRun):
        return None
    beat = _utc(run.heartbeat_at) or _utc(run.started_at)
    now = now or datetime.now(UTC)
    if beat is not None and now - beat > timedelta(seconds=STALE_AFTER_S):
        return f"no heartbeat since {beat.isoformat(timespec='seconds')} (killed, or its machine is gone)"
    return None


def run_state(run: LiveRun, now: datetime | None = None) -> RunStatus:
    """The status to show: `interrupted` for a `running` run whose process is gone."""
    return RunStatus.interrupted if gone_reason(run, now) else run.status


def mark_interrupted(session: Session, now: datetime | None = None) -> list[int]:
    """Store `interrupted` (with the reason in `error`) for every `running` run that is gone."""
    now = now or datetime.now(UTC)
    marked = []
    for run in session.scalars(select(CrawlRun).where(CrawlRun.status == RunStatus.running)):
        reason = gone_reason(run, now)
        if reason:
            run.status = RunStatus.interrupted
            run.error = reason
            run.finished_at = _utc(run.heartbeat_at) or now
            marked.append(run.id)
    return marked
