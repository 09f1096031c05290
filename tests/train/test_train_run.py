"""End-to-end LoRA runs on a tiny model built at test time (CPU, 1 thread, a few steps)."""

from __future__ import annotations

import json

import pytest
import torch

from tests.train.conftest import write_config


@pytest.fixture(scope="module")
def muse():
    from qa.embedders import Muse3Embedder

    return Muse3Embedder(threads=1)


def _lora_state(run_dir):
    from safetensors.torch import load_file

    return load_file(run_dir / "adapter" / "adapter_model.safetensors")


def test_run_writes_adapter_card_and_db_row(tmp_path, tiny_model, export_file, isolated_settings, muse):
    from sqlalchemy import select

    from db.models import TrainingRun
    from db.session import session_scope
    from foundation.settings import get_settings
    from qa.runs import load_run
    from train.config import load_config
    from train.trainer import run_training

    cfg = load_config(
        write_config(tmp_path / "t.toml", model=tiny_model, export=export_file, out=tmp_path / "runs"),
        ["train.max_steps=8", "output.merge=true"],
    )
    res = run_training(cfg, embedder=muse)
    run_dir = res.run_dir
    card = json.loads((run_dir / "run_card.json").read_text(encoding="utf-8"))
    assert card["status"] == "finished"
    assert card["data"]["sha256"] == __import__("hashlib").sha256(export_file.read_bytes()).hexdigest()
    assert card["data"]["train_rows"] + card["data"]["val_rows"] == 12
    assert card["template"] == {"name": "qa", "version": "1"} and card["context"] == {"k": 0}
    m = card["metrics"]
    assert 0.0 <= m["metric"] <= 1.0 and m["metric_embedder"] == muse.name and m["eval_loss"] > 0
    assert (run_dir / "adapter" / "adapter_config.json").exists()
    assert (run_dir / "config.toml").exists() and (run_dir / "log.jsonl").exists()

    # LoRA B matrices start at zero: training must have moved them
    state = _lora_state(run_dir)
    b = [v for k, v in state.items() if "lora_B" in k]
    assert b and any(float(v.abs().sum()) > 0 for v in b)

    with session_scope(get_settings().db_url) as s:
        row = s.scalars(select(TrainingRun)).one()
        assert row.id == card["training_run_id"]
        assert row.status.value == "finished" and row.data_sha256 == card["data"]["sha256"]
        assert row.metrics["metric"] == m["metric"]

    # the adapter loads back (base + peft) and generates
    model, tok, card2 = load_run(run_dir)
    from qa.prompt import build_prompt

    enc = tok(build_prompt("벽지가 들뜨는 원인은 무엇인가요?"), return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > enc["input_ids"].shape[1]
    assert card2["name"] == card["name"]

    # the merged folder gives the same greedy tokens as base + adapter
    assert card["merged_dir"] == "merged" and (run_dir / "merged" / "config.json").exists()
    merged, _, _ = load_run(run_dir, merge=True)
    assert not hasattr(merged, "peft_config")
    out2 = merged.generate(**enc, max_new_tokens=5, do_sample=False)
    assert out2.tolist() == out.tolist()

    # a second run into the same folder is refused with a clear message
    from foundation.errors import ConfigError

    with pytest.raises(ConfigError, match="already holds a finished run"):
        run_training(cfg, embedder=muse)


def test_loss_falls_on_toy_set(tmp_path, tiny_model, export_file, isolated_settings):
    from train.config import load_config
    from train.trainer import run_training

    cfg = load_config(
        write_config(tmp_path / "t.toml", model=tiny_model, export=export_file, out=tmp_path / "runs"),
        [
            "train.max_steps=40",
            "train.packing=true",  # the packed path trains too (the other runs use grouped batches)
            "train.learning_rate=3e-2",
            "metric.enabled=false",
            "output.register_run=false",
            "data.val_fraction=0",
            "train.warmup_ratio=0",
            "lora.r=8",
            "lora.alpha=16",
        ],
    )
    res = run_training(cfg)
    losses = [h["loss"] for h in res.log_history if "loss" in h]
    assert len(losses) >= 20
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.7 * first, (first, last)


KILL_SCRIPT = """
import os, signal, sys
import torch
torch.set_num_threads(1)
from transformers import TrainerCallback
from train.config import load_config
from train.trainer import run_training

class Kill(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)  # a real kill: no exception handler, no cleanup

run_training(load_config(sys.argv[1], sys.argv[3:]), callbacks=[Kill()])
"""


@pytest.mark.parametrize("context_k", [0, 2])
def test_killed_and_resumed_equals_uninterrupted(
    tmp_path, tiny_model, export_file, isolated_settings, context_k
):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from train.config import load_config
    from train.trainer import run_training

    over = ["train.max_steps=6", "train.save_steps=3", "metric.enabled=false", "lora.dropout=0.1"]
    if context_k:  # retrieved context is rebuilt on resume: it must come out the same
        over += [f"data.context_k={context_k}", "train.max_length=200"]
    path = write_config(tmp_path / "t.toml", model=tiny_model, export=export_file, out=tmp_path / "runs")
    full = run_training(load_config(path, [*over, "output.name=full"]))

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    res = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(path), "4", *over, "output.name=cut"],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == -signal.SIGKILL, res.stderr[-2000:]
    assert (tmp_path / "runs" / "cut" / "checkpoints" / "checkpoint-3").is_dir()  # step 4 was lost
    card = json.loads((tmp_path / "runs" / "cut" / "run_card.json").read_text(encoding="utf-8"))
    assert card["status"] == "running"

    from foundation.errors import ConfigError

    cfg = load_config(path, [*over, "output.name=cut"])
    with pytest.raises(ConfigError, match="--resume"):
        run_training(cfg)
    from transformers import TrainerCallback

    steps_run: list[int] = []

    class Record(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            steps_run.append(state.global_step)

    resumed = run_training(cfg, resume=True, callbacks=[Record()])
    assert steps_run == [4, 5, 6]  # continued from checkpoint-3, did not start over
    assert resumed.card["status"] == "finished"
    assert resumed.card["training_run_id"] == card["training_run_id"]  # the same database row
    a, b = _lora_state(full.run_dir), _lora_state(resumed.run_dir)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)
