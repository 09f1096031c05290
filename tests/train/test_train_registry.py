"""Training runs in the database (SQLite and PostgreSQL): linked to their export by sha256."""

from __future__ import annotations


def test_run_is_registered_and_linked_to_its_export(db_url):
    import os

    from sqlalchemy import select

    from db.models import Export, TrainingRun
    from db.runs import hostname
    from db.session import session_scope
    from train.config import TrainConfig
    from train.registry import register_end as _register_end
    from train.registry import register_start as _register_start

    sha = "ab" * 32
    with session_scope(db_url) as s:
        s.add(Export(path="/x/other.jsonl", format="jsonl", rows=3, sha256="cd" * 32))
        s.add(Export(path="/x/approved.jsonl", format="jsonl", rows=12, sha256=sha))
    cfg = TrainConfig.model_validate({"base_model": "/models/base", "data": {"export": "/x/approved.jsonl"}})
    card = {
        "name": "r1",
        "run_dir": "/runs/r1",
        "data": {"sha256": sha},
        "base_model": {"path": "/models/base"},
        "config": cfg.model_dump(mode="json"),
        "git_commit": "0" * 40,
    }
    run_id = _register_start(cfg, card, "sw-1")
    with session_scope(db_url) as s:
        run = s.get(TrainingRun, run_id)
        export = s.scalars(select(Export).where(Export.sha256 == sha)).one()
        assert run.status.value == "running" and run.export_id == export.id and run.sweep_id == "sw-1"
        assert run.finished_at is None and run.config["data"]["export"] == "/x/approved.jsonl"
        # its process, for the one liveness rule (db/runs.py): a SIGKILLed run reads `interrupted`
        assert (run.pid, run.host) == (os.getpid(), hostname())
    _register_end(run_id, "finished", {"metric": 0.5, "eval_loss": 1.25})
    with session_scope(db_url) as s:
        run = s.get(TrainingRun, run_id)
        assert run.status.value == "finished" and run.metrics == {"metric": 0.5, "eval_loss": 1.25}
        assert run.finished_at is not None
