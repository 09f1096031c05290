"""`dobae train`: LoRA fine-tuning with the transformers Trainer, one readable entry.

`run_training` is four steps, each its own module:
1. prepare (train/prepare.py): the run folder's state, data and split, device, tokenizer, context,
   encoded datasets;
2. build (here): the base model in fp32 with its LoRA adapter, seeded;
3. run (train/loop.py): the Trainer's loop — checkpoints, resume, the competition metric
   (train/metric.py);
4. write (train/run_card.py, train/registry.py): config, run card, adapter, tokenizer, log and the
   database row (layout: train/RUN_DIR.md).
Heavy imports stay inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.console import console
from train.config import TrainConfig
from train.loop import run_loop, training_arguments
from train.prepare import Prepared, check_run_folder, prepare, rank
from train.run_card import finish_run, new_card, start_run

__all__ = ["RunResult", "build_model", "load_base_for_training", "rank", "run_training"]


@dataclass
class RunResult:
    run_dir: Path
    card: dict[str, Any]
    log_history: list[dict[str, Any]] = field(default_factory=list)


def run_training(
    cfg: TrainConfig,
    *,
    resume: bool = False,
    sweep: dict[str, Any] | None = None,
    embedder=None,
    callbacks=None,
) -> RunResult:
    """Train one run; write RUN_DIR (adapter, tokenizer, card); register it. See train/RUN_DIR.md.

    `embedder` (default: `qa.embedders.load_embedder(cfg.metric.embedder)`, loaded on first use)
    scores generated answers; `callbacks` are extra transformers TrainerCallbacks (tests use one to
    interrupt a run).
    """
    folder = check_run_folder(cfg, resume=resume)
    if folder.finished:
        console.print(f"{folder.run_dir}: already finished, nothing to resume", markup=False)
        return RunResult(folder.run_dir, folder.old_card)
    prep = prepare(cfg, folder, embedder)
    model = build_model(cfg, prep)
    args = training_arguments(cfg, prep)
    card = new_card(cfg, prep, args, sweep)
    start_run(cfg, prep, card, sweep)
    metrics, history = run_loop(cfg, prep, model, args, card, resume=resume, callbacks=callbacks)
    finish_run(cfg, prep, model, card, metrics, history)
    return RunResult(prep.run_dir, card, history)


def build_model(cfg: TrainConfig, prep: Prepared):
    """The base model with a fresh LoRA adapter; seeded first, so its initial weights depend on
    `train.seed` only (a resumed run then loads the checkpoint's)."""
    from peft import LoraConfig, get_peft_model
    from transformers import set_seed

    set_seed(cfg.train.seed)
    model = load_base_for_training(prep.base.path, cfg.train.gradient_checkpointing)
    lora = LoraConfig(
        task_type="CAUSAL_LM",
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
    )
    return get_peft_model(model, lora)


def load_base_for_training(path: str, gradient_checkpointing: bool = False):
    """The base model in fp32 (the Trainer's AMP casts to bf16 on GPU), ready for packed batches.

    The KV cache is switched off: with a cache object present, transformers does not detect packed
    rows from restarting position_ids and examples of one pack would attend to each other.
    """
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.config.use_cache = False
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    return model
