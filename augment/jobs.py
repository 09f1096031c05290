"""Augmentation jobs (`augment_jobs`): find-or-resume, progress, and the `status` report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from db.models import AugmentJob, Generation, QAPair, Review, RunStatus, utcnow
from db.runs import hostname, run_state
from db.session import session_scope
from db.summary import review_word


def require_schema(url: str | None) -> None:
    """A clear error instead of "no such table" when the database was never migrated."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from db.session import get_engine
    from foundation.errors import ConfigError

    engine = get_engine(url)
    if not inspect(engine).has_table("augment_jobs"):
        shown = make_url(str(engine.url)).render_as_string(hide_password=True)
        raise ConfigError(f"the database {shown} has no dobae schema yet; run `dobae db upgrade` first")


def start_job(url: str | None, operation: str, params: dict[str, Any], total: int) -> int:
    """Continue the job with the same operation and parameters (a killed one resumes; a finished one
    is re-checked, which costs nothing when its work is done), or start a new one."""
    with session_scope(url) as s:
        for job in s.scalars(
            select(AugmentJob).where(AugmentJob.operation == operation).order_by(AugmentJob.id.desc())
        ):
            if job.params == params:
                job.status = RunStatus.running
                job.total = total
                job.finished_at = None
                job.pid, job.host = os.getpid(), hostname()
                return job.id
        job = AugmentJob(
            operation=operation, params=params, total=total, status=RunStatus.running, pid=os.getpid(),
            host=hostname(),
        )  # fmt: skip
        s.add(job)
        s.flush()
        return job.id


def finish_job(url: str | None, job_id: int, status: RunStatus) -> None:
    with session_scope(url) as s:
        job = s.get(AugmentJob, job_id)
        if job is not None:
            job.status = status
            job.finished_at = utcnow()


@dataclass
class OperationStatus:
    operation: str
    jobs: int
    running: int
    total: int
    done: int
    errors: int
    generations: int
    tokens_in: int
    tokens_out: int
    pairs: dict[str, int]
    failures: dict[str, int]
    interrupted: int = 0  # killed without a word (its process is gone): the same command resumes it


def status_report(url: str | None = None) -> list[OperationStatus]:
    """Per operation: jobs, latest progress, tokens, errors by reason, generated pairs by review status."""
    require_schema(url)
    out: dict[str, OperationStatus] = {}
    with session_scope(url) as s:
        for job in s.scalars(select(AugmentJob).order_by(AugmentJob.id)):
            st = out.setdefault(job.operation, OperationStatus(job.operation, 0, 0, 0, 0, 0, 0, 0, 0, {}, {}))
            st.jobs += 1
            st.running += run_state(job) == RunStatus.running  # a SIGKILLed job is not running
            st.interrupted += run_state(job) == RunStatus.interrupted
            st.total += job.total
            st.done += job.done
            st.errors += job.errors
        for op, n, tin, tout in s.execute(
            select(
                Generation.operation,
                func.count(),
                func.sum(Generation.tokens_in),
                func.sum(Generation.tokens_out),
            ).group_by(Generation.operation)
        ):
            st = out.setdefault(op, OperationStatus(op, 0, 0, 0, 0, 0, 0, 0, 0, {}, {}))
            st.generations, st.tokens_in, st.tokens_out = n, int(tin or 0), int(tout or 0)
        for op, gstatus, error, n in s.execute(
            select(Generation.operation, Generation.status, Generation.error, func.count())
            .where(Generation.status != "ok")
            .group_by(Generation.operation, Generation.status, Generation.error)
        ):
            reason = gstatus if gstatus != "error" else (error or "error").split(":", 1)[0]
            st = out[op]
            st.failures[reason] = st.failures.get(reason, 0) + n
        for op, rstatus, n in s.execute(
            select(Generation.operation, Review.status, func.count())
            .join(QAPair, QAPair.generation_id == Generation.id)
            .outerjoin(Review, Review.pair_id == QAPair.id)
            .group_by(Generation.operation, Review.status)
        ):
            key = review_word(rstatus)  # no review row: `pending`, as in every view
            out[op].pairs[key] = out[op].pairs.get(key, 0) + n
    return list(out.values())


def reasons_histogram(url: str | None = None, operations: Sequence[str] | None = None) -> dict[str, int]:
    """How often each review reason was given to generated pairs."""
    counts: dict[str, int] = {}
    with session_scope(url) as s:
        q = (
            select(Review.reasons)
            .join(QAPair, QAPair.id == Review.pair_id)
            .join(Generation, Generation.id == QAPair.generation_id)
        )
        if operations:
            q = q.where(Generation.operation.in_(list(operations)))
        for (reasons,) in s.execute(q):
            for r in reasons or []:
                counts[r] = counts.get(r, 0) + 1
    return counts
