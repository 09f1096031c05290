"""`dobae train`: LoRA fine-tuning with the transformers Trainer, one readable entry.

The loop lives in transformers.Trainer (checkpoints, resume, gradient accumulation, cosine schedule,
DDP under `torchrun`/`accelerate launch`); this module builds its inputs and writes the run folder
(layout: train/RUN_DIR.md). Heavy imports stay inside the functions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from foundation.console import console
from foundation.errors import ConfigError
from qa.pairs import read_export
from train.config import TrainConfig, dump_toml
from train.data import encode_with_context, metric_items, split_by_group
from train.models import resolve_base_model

CARD_FORMAT = 1


@dataclass
class RunResult:
    run_dir: Path
    card: dict[str, Any]
    log_history: list[dict[str, Any]] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def git_commit() -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def write_card(run_dir: Path, card: dict[str, Any]) -> None:
    tmp = run_dir / "run_card.json.tmp"
    tmp.write_text(json.dumps(card, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    tmp.replace(run_dir / "run_card.json")


# --------------------------------------------------------------------------- database


def _register_start(cfg: TrainConfig, card: dict[str, Any], sweep_id: str | None) -> int:
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


def _register_end(run_id: int, status: str, metrics: dict[str, Any]) -> None:
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


# --------------------------------------------------------------------------- metric


def generate_answers(
    model,
    tokenizer,
    questions: list[str],
    max_new_tokens: int,
    batch_size: int,
    contexts: list[list[tuple[str, str]]] | None = None,
) -> list[str]:
    """Greedy answers for `questions` with the shared prompt (left-padded batches); `contexts[i]`
    are the retrieved pairs of question i when the run trains with context."""
    import torch

    from qa.prompt import build_prompt

    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    answers: list[str] = []
    try:
        for i in range(0, len(questions), batch_size):
            prompts = [
                build_prompt(q, contexts[j] if contexts else ())
                for j, q in enumerate(questions[i : i + batch_size], i)
            ]
            enc = tokenizer(prompts, return_tensors="pt", padding=True).to(device)
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    use_cache=True,
                    eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            answers.extend(t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = side
        if was_training:
            model.train()
    return answers


def competition_metric(
    model, tokenizer, items, embedder, max_new_tokens: int, batch_size: int, contexts=None
) -> dict[str, Any]:
    """generate → embed → score (qa/scoring.py): mean clipped cosine over validation questions."""
    from qa.scoring import score_texts

    questions = [q for q, _ in items]
    answers = generate_answers(model, tokenizer, questions, max_new_tokens, batch_size, contexts)
    res = score_texts(answers, [refs for _, refs in items], embedder)
    return {"metric": round(res.mean, 6), "n": len(items), "example": answers[0][:200] if answers else ""}


# --------------------------------------------------------------------------- training


def _callbacks(cfg, tokenizer, items, embedder_ref, extra, item_contexts=None):
    from transformers import TrainerCallback

    from foundation.console import progress

    class RichProgress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kw):
            if state.is_world_process_zero:
                self.bar = progress()
                self.bar.start()
                self.task = self.bar.add_task("training", total=state.max_steps, completed=state.global_step)

        def on_step_end(self, args, state, control, **kw):
            if state.is_world_process_zero:
                self.bar.update(self.task, completed=state.global_step)

        def on_train_end(self, args, state, control, **kw):
            if state.is_world_process_zero:
                self.bar.stop()

        def on_log(self, args, state, control, logs=None, **kw):
            if state.is_world_process_zero and logs and ("loss" in logs or "eval_loss" in logs):
                shown = {
                    k: v for k, v in logs.items() if k in ("loss", "eval_loss", "learning_rate", "epoch")
                }
                text = ", ".join(
                    f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()
                )
                self.bar.console.print(f"step {state.global_step}: {text}", markup=False)

    class EpochMetric(TrainerCallback):
        """Competition metric at each epoch end, kept in the trainer state (so checkpoints keep it)."""

        def on_epoch_end(self, args, state, control, model=None, **kw):
            if not items or not state.is_world_process_zero:
                return
            emb = embedder_ref()
            res = competition_metric(
                model, tokenizer, items, emb, cfg.metric.max_new_tokens, cfg.metric.batch_size, item_contexts
            )
            entry = {
                "epoch": round(state.epoch or 0, 4),
                "step": state.global_step,
                "val_metric": res["metric"],
            }
            state.log_history.append(entry)
            console.print(
                f"epoch {entry['epoch']}: metric {res['metric']:.4f} on {res['n']} questions "
                f"(e.g. {res['example'][:80]!r})",
                markup=False,
            )

    cbs = [RichProgress()]
    if items:
        cbs.append(EpochMetric())
    return cbs + list(extra or [])


def _seeded_trainer_class():
    """transformers.Trainer whose length-grouped order depends only on (seed, epoch).

    The stock LengthGroupedSampler draws from the global RNG when an epoch starts, so a run resumed
    mid-epoch would see another order than the uninterrupted run; seeding per epoch makes resume exact.
    """
    import torch
    from transformers import Trainer
    from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

    class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
        def __init__(self, *args, seed: int, **kwargs):
            super().__init__(*args, **kwargs)
            self.seed, self.epoch = seed, 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = int(epoch)

        def __iter__(self):
            g = torch.Generator()
            g.manual_seed(self.seed * 1_000_003 + self.epoch)
            return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=g))

    class SeededTrainer(Trainer):
        def _get_train_sampler(self, train_dataset=None):
            ds = train_dataset if train_dataset is not None else self.train_dataset
            if self.args.train_sampling_strategy != "group_by_length" or ds is None:
                return super()._get_train_sampler(train_dataset)
            return EpochSeededLengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=list(ds[self.args.length_column_name]),
                seed=self.args.data_seed if self.args.data_seed is not None else self.args.seed,
            )

    return SeededTrainer


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
    import torch
    from transformers.trainer_utils import get_last_checkpoint

    run_dir = Path(cfg.output.dir) / cfg.run_name()
    card_path = run_dir / "run_card.json"
    old_card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else None
    ckpt_dir = run_dir / "checkpoints"
    last_ckpt = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    if old_card and old_card.get("status") == "finished":
        if resume:
            console.print(f"{run_dir}: already finished, nothing to resume", markup=False)
            return RunResult(run_dir, old_card)
        raise ConfigError(f"{run_dir} already holds a finished run: choose another output.name or delete it")
    if (old_card or last_ckpt) and not resume:
        raise ConfigError(
            f"{run_dir} holds an unfinished run: pass --resume to continue it, or choose another output.name"
        )

    base = resolve_base_model(cfg.base_model)
    data = read_export(cfg.data.export)
    train_pairs, val_pairs = split_by_group(
        data.pairs, cfg.data.val_fraction, cfg.data.split_seed, cfg.data.min_val_groups
    )
    items = metric_items(val_pairs, cfg.metric.max_questions) if cfg.metric.enabled else []

    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    cuda = torch.cuda.is_available()
    precision = cfg.train.precision
    if precision == "auto":
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "bf16" and not cuda:
        raise ConfigError("train.precision = 'bf16' needs a GPU; use 'fp32' (or 'auto') on CPU")

    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        DataCollatorWithFlattening,
        TrainingArguments,
        set_seed,
    )

    set_seed(cfg.train.seed)
    main_rank = rank() == 0
    tokenizer = AutoTokenizer.from_pretrained(base.path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_base_for_training(base.path, cfg.train.gradient_checkpointing)
    lora = LoraConfig(
        task_type="CAUSAL_LM",
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
    )
    model = get_peft_model(model, lora)

    from datasets import Dataset

    emb_cache: dict[str | None, Any] = {}

    def embedder_for(spec: str | None):
        """`embedder` when given (tests), else the embedder named by `spec`, loaded once."""
        if embedder is not None:
            return embedder
        if spec not in emb_cache:
            from qa.embedders import load_embedder

            emb_cache[spec] = load_embedder(spec)
        return emb_cache[spec]

    def embedder_ref():
        return embedder_for(cfg.metric.embedder)

    k = cfg.data.context_k
    val_used = val_pairs[: cfg.train.eval_max_examples] if cfg.train.eval_max_examples else val_pairs
    context_info: dict[str, Any] = {"k": k}
    train_ctx = val_ctx = item_contexts = None
    if k:
        if not train_pairs:
            raise ConfigError("no training pairs left after the validation split: lower data.val_fraction")
        from qa.retrieval import make_retriever
        from train.context import embedder_spec, excluded_groups, retrieve_contexts

        ctx_emb = embedder_for(cfg.data.context_embedder or cfg.metric.embedder)
        if main_rank:
            console.print(
                f"retrieving {k} context pairs per example from {len(train_pairs)} training pairs …"
            )
        retriever = make_retriever(train_pairs, ctx_emb)
        train_ctx = retrieve_contexts(
            retriever, [p.question for p in train_pairs], excluded_groups(train_pairs, train_pairs), k
        )
        val_ctx = retrieve_contexts(
            retriever, [p.question for p in val_used], excluded_groups(train_pairs, val_used), k
        )
        item_contexts = retrieve_contexts(retriever, [q for q, _ in items], [None] * len(items), k) or None
        context_info.update(
            source="training split; pairs sharing a group with the example excluded",
            retriever=retriever.config(),
            embedder=ctx_emb.name,
            embedder_spec=embedder_spec(ctx_emb) or cfg.data.context_embedder or cfg.metric.embedder,
        )

    def encode(pairs, contexts):
        rows, kept = [], []
        for i, p in enumerate(pairs):
            row, n = encode_with_context(
                tokenizer, p.question, p.answer, cfg.train.max_length, contexts[i] if contexts else ()
            )
            row["length"] = len(row["input_ids"])
            rows.append(row)
            kept.append(n)
        return (Dataset.from_list(rows) if rows else None), kept

    train_ds, train_kept = encode(train_pairs, train_ctx)
    val_ds, _ = encode(val_used, val_ctx)
    if train_ds is None:
        raise ConfigError("no training pairs left after the validation split: lower data.val_fraction")
    if k:
        short = sum(1 for n, c in zip(train_kept, train_ctx, strict=True) if n < len(c))
        context_info.update(
            pairs_per_example=round(sum(train_kept) / len(train_kept), 3),
            examples_with_fewer_pairs=short,
        )
        if short and main_rank:
            console.print(
                f"[yellow]note:[/yellow] {short:d} of {len(train_kept)} training examples lost context pairs "
                f"to train.max_length = {cfg.train.max_length:d} (mean {context_info['pairs_per_example']:g} of "
                f"{k:d} kept); raise train.max_length to keep them",
                markup=True,
            )
    if cfg.train.packing:
        collator = DataCollatorWithFlattening()
        train_ds = train_ds.remove_columns("length")
        val_ds = val_ds.remove_columns("length") if val_ds is not None else None
    else:
        pad = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)

        def collator(features):  # `length` feeds the length-grouped sampler, not the model
            return pad([{k: v for k, v in f.items() if k != "length"} for f in features])

    t = cfg.train
    args = TrainingArguments(
        output_dir=str(ckpt_dir),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=t.warmup_ratio,
        weight_decay=t.weight_decay,
        eval_strategy="steps" if val_ds is not None else "no",
        eval_steps=t.eval_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        logging_steps=t.logging_steps,
        seed=t.seed,
        data_seed=t.seed,
        bf16=precision == "bf16",
        use_cpu=not cuda,
        report_to="none",
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length" if (t.group_by_length and not t.packing) else "random",
        length_column_name="length",
        dataloader_num_workers=0,
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
        include_num_input_tokens_seen="all",
    )

    card: dict[str, Any] = {
        "format": CARD_FORMAT,
        "name": cfg.run_name(),
        "status": "running",
        "run_dir": str(run_dir),
        "base_model": {"spec": base.spec, "path": base.path, "kind": base.kind},
        "adapter_dir": "adapter",
        "tokenizer_dir": "tokenizer",
        "merged_dir": None,
        "template": _template(),
        "context": context_info,
        "eos_token": tokenizer.eos_token,
        "max_length": t.max_length,
        "generation": {"max_new_tokens": cfg.metric.max_new_tokens},
        "lora": {
            "r": cfg.lora.r,
            "alpha": cfg.lora.alpha,
            "dropout": cfg.lora.dropout,
            "target_modules": cfg.lora.target_modules,
        },
        "data": {
            "path": str(data.path.resolve()),
            "sha256": data.sha256,
            "rows": len(data.pairs),
            "train_rows": len(train_pairs),
            "val_rows": len(val_pairs),
            "val_groups": len({p.group_id for p in val_pairs}),
        },
        "config": cfg.model_dump(mode="json"),
        "metrics": {},
        "git_commit": git_commit(),
        "training_run_id": (old_card or {}).get("training_run_id"),
        "sweep": sweep,
        "started_at": (old_card or {}).get("started_at") or _now(),
        "finished_at": None,
        "device": "cuda" if cuda else "cpu",
        "dtype": precision,
        "world_size": args.world_size,
        "parallel_mode": args.parallel_mode.value,
    }
    main = main_rank
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.toml").write_text(dump_toml(cfg), encoding="utf-8")
        if cfg.output.register_run and card["training_run_id"] is None:
            card["training_run_id"] = _register_start(cfg, card, (sweep or {}).get("sweep_id"))
        write_card(run_dir, card)

    trainer = _seeded_trainer_class()(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=_callbacks(cfg, tokenizer, items, embedder_ref, callbacks, item_contexts),
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # RichProgress prints to stderr instead of raw dicts on stdout
    resume_from = last_ckpt if resume and last_ckpt else None
    if main:
        console.print(
            f"training {card['name']}: {len(train_pairs)} train / {len(val_pairs)} val pairs, base "
            f"{base.path}, {precision} on {card['device']}"
            + (f", resuming from {Path(resume_from).name}" if resume_from else ""),
            markup=False,
        )
    try:
        out = trainer.train(resume_from_checkpoint=resume_from)
    except BaseException as exc:
        if main and card["training_run_id"] is not None and cfg.output.register_run:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            _register_end(card["training_run_id"], status, {})
        raise

    history = list(trainer.state.log_history)
    metrics: dict[str, Any] = {
        "train_loss": round(float(out.training_loss), 6),
        "steps": out.global_step,
        "tokens_seen": int(trainer.state.num_input_tokens_seen or 0),
    }
    if val_ds is not None:
        last = [h for h in history if "eval_loss" in h]
        if last and last[-1].get("step") == out.global_step:  # evaluated at the final step already
            metrics["eval_loss"] = round(float(last[-1]["eval_loss"]), 6)
        else:
            metrics["eval_loss"] = round(float(trainer.evaluate()["eval_loss"]), 6)
    epochs = [h for h in history if "val_metric" in h]
    if items and main and (not epochs or epochs[-1]["step"] != out.global_step):
        res = competition_metric(
            model,
            tokenizer,
            items,
            embedder_ref(),
            cfg.metric.max_new_tokens,
            cfg.metric.batch_size,
            item_contexts,
        )
        epochs.append(
            {
                "epoch": round(trainer.state.epoch or 0, 4),
                "step": out.global_step,
                "val_metric": res["metric"],
            }
        )
    if epochs:
        emb = embedder_ref()
        metrics["metric"] = epochs[-1]["val_metric"]
        metrics["metric_embedder"] = emb.name
        metrics["metric_is_proxy"] = bool(getattr(emb, "is_proxy", False))
        metrics["metric_questions"] = len(items)
    evals = {round(h["epoch"], 4): h["eval_loss"] for h in history if "eval_loss" in h}
    metrics["epochs"] = [
        {
            "epoch": e["epoch"],
            "step": e["step"],
            "metric": e["val_metric"],
            "eval_loss": evals.get(e["epoch"]),
        }
        for e in epochs
    ]

    if main:
        model.base_model.model.config.use_cache = True  # saved configs serve with the cache on
        model.save_pretrained(run_dir / "adapter")
        tokenizer.save_pretrained(run_dir / "tokenizer")
        if cfg.output.merge:
            merged_dir = run_dir / "merged"
            if merged_dir.exists():
                shutil.rmtree(merged_dir)
            merged = model.merge_and_unload()
            merged.save_pretrained(merged_dir)
            tokenizer.save_pretrained(merged_dir)
            card["merged_dir"] = "merged"
        with (run_dir / "log.jsonl").open("w", encoding="utf-8") as f:
            for h in history:
                f.write(json.dumps(h, ensure_ascii=False) + "\n")
        card.update(status="finished", metrics=metrics, finished_at=_now())
        write_card(run_dir, card)
        if cfg.output.register_run and card["training_run_id"] is not None:
            _register_end(card["training_run_id"], "finished", metrics)
    return RunResult(run_dir, card, history)


def _template() -> dict[str, str]:
    from qa import prompt

    return {"name": prompt.TEMPLATE_NAME, "version": prompt.TEMPLATE_VERSION}
