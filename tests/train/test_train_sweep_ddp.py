"""Sweeps (rank, register, resume) and a 2-process DDP run over gloo, on the tiny model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.train.conftest import write_config

ROOT = Path(__file__).resolve().parents[2]


class _Interrupt(Exception):
    pass


def test_sweep_ranks_registers_and_resumes(tmp_path, tiny_model, export_file, isolated_settings):
    from sqlalchemy import select
    from transformers import TrainerCallback

    from db.models import TrainingRun
    from db.session import session_scope
    from foundation.settings import get_settings
    from qa.embedders import Muse3Embedder
    from train.config import load_config
    from train.sweep import run_sweep

    muse = Muse3Embedder(threads=1)
    path = write_config(
        tmp_path / "sw.toml",
        model=tiny_model,
        export=export_file,
        out=tmp_path / "runs",
        extra='[sweep]\n"train.learning_rate" = [1e-3, 3e-2]\n',
    )
    cfg = load_config(path, ["train.max_steps=4", "train.save_steps=2", "train.eval_steps=2"])

    class KillSecond(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if "learning_rate=0.03" in args.output_dir and state.global_step == 3:
                raise _Interrupt("simulated kill in the second member")

    with pytest.raises(_Interrupt):
        run_sweep(cfg, embedder=muse, callbacks=[KillSecond()])
    first = tmp_path / "runs" / "sw" / "learning_rate=0.001" / "run_card.json"
    finished_at = json.loads(first.read_text(encoding="utf-8"))["finished_at"]
    assert finished_at

    rows = run_sweep(cfg, embedder=muse)  # resumes: the first is skipped, the second continues
    assert json.loads(first.read_text(encoding="utf-8"))["finished_at"] == finished_at
    assert len(rows) == 2 and all(r["metric"] is not None for r in rows)
    assert rows[0]["metric"] >= rows[1]["metric"]
    assert {r["values"]["train.learning_rate"] for r in rows} == {1e-3, 3e-2}
    with session_scope(get_settings().db_url) as s:
        runs = s.scalars(select(TrainingRun)).all()
        assert len(runs) == 2 and len({r.sweep_id for r in runs}) == 1
        assert all(r.status.value == "finished" for r in runs)

    from train.sweep import print_table

    print_table(rows)  # the ranked table renders


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_gloo(tmp_path, tiny_model, export_file):
    """The same `dobae train` command under torchrun: 2 CPU processes, gloo backend."""
    cfg = write_config(tmp_path / "ddp.toml", model=tiny_model, export=export_file, out=tmp_path / "runs")
    env = dict(os.environ, DOBAE_DATA_DIR=str(tmp_path / "data"), OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.pop("DOBAE_DATABASE_URL", None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        "-m",
        "dobae.cli",
        "train",
        "--config",
        str(cfg),
        "--set",
        "train.max_steps=4",
        "--set",
        "metric.max_questions=1",
    ]
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    card = json.loads((tmp_path / "runs" / "ddp" / "run_card.json").read_text(encoding="utf-8"))
    assert card["status"] == "finished" and card["world_size"] == 2
    assert card["metrics"]["steps"] == 4 and "metric" in card["metrics"]
    assert (tmp_path / "runs" / "ddp" / "adapter" / "adapter_model.safetensors").exists()
    assert card["parallel_mode"] == "distributed"
    import sqlite3

    with sqlite3.connect(tmp_path / "data" / "dobae.db") as conn:  # registered once, by rank 0
        assert conn.execute("SELECT count(*), max(status) FROM training_runs").fetchone() == (1, "finished")
