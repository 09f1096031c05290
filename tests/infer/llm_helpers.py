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
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    from train.prompt import ANSWER_PREFIX, CONTEXT_HEADER, QUESTION_PREFIX

    torch.manual_seed(0)
    lines = [f"{CONTEXT_HEADER}[1] {QUESTION_PREFIX}{q}\n{ANSWER_PREFIX}{a}" for _, q, a in rows_texts(rows)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=["<|endoftext|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(lines * 5, trainer)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    hf_tok.save_pretrained(path)
    cfg = Qwen2Config(
        vocab_size=len(hf_tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
        eos_token_id=hf_tok.eos_token_id,
        pad_token_id=hf_tok.pad_token_id,
        max_position_embeddings=1024,
        initializer_range=0.3,
    )
    model = Qwen2ForCausalLM(cfg)
    model.generation_config = GenerationConfig(
        eos_token_id=hf_tok.eos_token_id, pad_token_id=hf_tok.pad_token_id
    )
    model.save_pretrained(path)
    return path


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
