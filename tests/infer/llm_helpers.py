"""Tiny model and tiny training runs for the generation tests, built at test time (no hub, seconds).

A byte-level BPE tokenizer trained on the test rows (the `items` fixture of tests/infer/conftest.py) wrapped in
PreTrainedTokenizerFast, a 2-layer Qwen2 (hidden 64), and runs trained on those rows with the real
trainer (`train.trainer.run_training`), so the run folder is exactly what `dobae train` writes.
"""

from __future__ import annotations

import json
from pathlib import Path


def rows_texts(items) -> list[tuple[str, str, str]]:
    """(group, question, answer) for every phrasing × answer of the test items (`items` fixture)."""
    return [(it.id, q, a) for it in items for q in it.questions for a in it.answers]


def build_tiny_model(path: Path, rows) -> Path:
    from qa.prompt import ANSWER_PREFIX, CONTEXT_HEADER, QUESTION_PREFIX
    from train.tiny import TinyShape, build_tiny_causal_lm

    lines = [f"{CONTEXT_HEADER}[1] {QUESTION_PREFIX}{q}\n{ANSWER_PREFIX}{a}" for _, q, a in rows_texts(rows)]
    return build_tiny_causal_lm(
        path, lines * 5, vocab_size=700, shape=TinyShape(max_position_embeddings=1024)
    )


def train_tiny_run(model: Path, rows, out: Path, name: str, *, steps: int, lr: float) -> Path:
    """A finished run folder trained by the project's trainer on the test rows."""
    from train.config import load_config
    from train.trainer import run_training

    export = out / f"{name}.jsonl"
    export.write_text(
        "".join(
            json.dumps({"id": i, "group_id": g, "question": q, "answer": a}, ensure_ascii=False) + "\n"
            for i, (g, q, a) in enumerate(rows_texts(rows), 1)
        ),
        encoding="utf-8",
    )
    cfg = out / f"{name}.toml"
    cfg.write_text(
        f"""base_model = "{model}"
[data]
export = "{export}"
val_fraction = 0.0
[lora]
r = 16
alpha = 32
dropout = 0.0
target_modules = "all-linear"
[train]
max_steps = {steps}
batch_size = 16
learning_rate = {lr}
max_length = 96
packing = false
save_steps = 1000
logging_steps = 1000
threads = 1
[metric]
enabled = false
[output]
dir = "{out}"
name = "{name}"
register_run = false
""",
        encoding="utf-8",
    )
    return run_training(load_config(cfg)).run_dir


# --------------------------------------------------------------------------- fixtures (import them)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_base(items, tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base"), items)


@pytest.fixture(scope="session")
def trained_run(tiny_base, items, tmp_path_factory) -> Path:
    """Trained until it answers the test rows' questions with their answers and stops on EOS."""
    return train_tiny_run(tiny_base, items, tmp_path_factory.mktemp("runs"), "trained", steps=80, lr=1e-2)


@pytest.fixture(scope="session")
def untrained_run(tiny_base, items, tmp_path_factory) -> Path:
    """One step at a tiny rate: a random model that never stops early (slow enough to be killed)."""
    return train_tiny_run(tiny_base, items, tmp_path_factory.mktemp("runs"), "untrained", steps=1, lr=1e-6)
