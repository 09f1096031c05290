"""A training run's row in the database (`training_runs`): registered when the run starts, its
status and metrics set when it ends (`dobae status`, the report and sweeps read it)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from train.config import TrainConfig


def register_start(cfg: TrainConfig, card: dict[str, Any], sweep_id: str | None) -> int:
    from sqlalchemy import select

    from db.migrate import ensure_schema
    from db.models import Export, RunStatus, TrainingRun
    from db.runs import hostname
    from db.session import session_scope
    from foundation.settings import get_settings

    url = get_settings().db_url
    ensure_schema(url)
    with session_scope(url) as s:
        export_id = s.scalars(
            select(Export.id).where(Export.sha256 == card["data"]["sha256"]).order_by(Export.id.desc())
        ).first()
        run = TrainingRun(
            name=card["name"],
            sweep_id=sweep_id,
            export_id=export_id,
            data_sha256=card["data"]["sha256"],
            base_model=card["base_model"]["path"][:500],
            output_dir=str(Path(card["run_dir"]).resolve()),
            config=card["config"],
            git_commit=card["git_commit"],
            status=RunStatus.running,
            pid=os.getpid(),
            host=hostname(),
        )
        s.add(run)
        s.flush()
        return run.id


def register_end(run_id: int, status: str, metrics: dict[str, Any]) -> None:
    from db.models import RunStatus, TrainingRun
    from db.session import session_scope
    from foundation.settings import get_settings

    with session_scope(get_settings().db_url) as s:
        run = s.get(TrainingRun, run_id)
        if run is None:
            return
        run.status = RunStatus(status)
        run.metrics = metrics
        if status == "finished":
            run.finished_at = datetime.now(UTC).replace(tzinfo=None)
