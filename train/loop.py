"""Training, step 3 of 4 (train/trainer.py): the loop. transformers.Trainer runs it (checkpoints
every `save_steps`, resume from the last one, gradient accumulation, cosine schedule, DDP under
`torchrun`/`accelerate launch`); this module gives it its arguments, an epoch-seeded sampler (so a
resumed run sees the uninterrupted run's order), progress and the competition metric at each epoch
end, and collects the run's metrics. Heavy imports stay inside the functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foundation.console import console
from train.config import TrainConfig
from train.metric import competition_metric
from train.prepare import Prepared
from train.registry import register_end


def training_arguments(cfg: TrainConfig, prep: Prepared):
    from transformers import TrainingArguments

    t = cfg.train
    return TrainingArguments(
        output_dir=str(prep.folder.ckpt_dir),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=t.warmup_ratio,
        weight_decay=t.weight_decay,
        eval_strategy="steps" if prep.val_ds is not None else "no",
        eval_steps=t.eval_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        logging_steps=t.logging_steps,
        seed=t.seed,
        data_seed=t.seed,
        bf16=prep.precision == "bf16",
        use_cpu=not prep.cuda,
        report_to="none",
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length" if (t.group_by_length and not t.packing) else "random",
        length_column_name="length",
        dataloader_num_workers=0,
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
        include_num_input_tokens_seen="all",
    )


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


def run_loop(
    cfg: TrainConfig, prep: Prepared, model, args, card: dict[str, Any], *, resume: bool, callbacks=None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Train (from the last checkpoint when resuming); (metrics, log history). A failed or
    interrupted loop marks the run's database row (`interrupted`, `failed`) before the error goes on."""
    from transformers.trainer_callback import PrinterCallback

    tokenizer, items, main = prep.tokenizer, prep.items, prep.main
    trainer = _seeded_trainer_class()(
        model=model,
        args=args,
        train_dataset=prep.train_ds,
        eval_dataset=prep.val_ds,
        data_collator=prep.collator,
        processing_class=tokenizer,
        callbacks=_callbacks(cfg, tokenizer, items, prep.embedders.metric, callbacks, prep.item_contexts),
    )
    trainer.remove_callback(PrinterCallback)  # RichProgress prints to stderr instead of raw dicts on stdout
    last_ckpt = prep.folder.last_ckpt
    resume_from = last_ckpt if resume and last_ckpt else None
    if main:
        console.print(
            f"training {card['name']}: {len(prep.train_pairs)} train / {len(prep.val_pairs)} val pairs, base "
            f"{prep.base.path}, {prep.precision} on {card['device']}"
            + (f", resuming from {Path(resume_from).name}" if resume_from else ""),
            markup=False,
        )
    try:
        out = trainer.train(resume_from_checkpoint=resume_from)
    except BaseException as exc:
        if main and card["training_run_id"] is not None and cfg.output.register_run:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            register_end(card["training_run_id"], status, {})
        raise

    history = list(trainer.state.log_history)
    metrics: dict[str, Any] = {
        "train_loss": round(float(out.training_loss), 6),
        "steps": out.global_step,
        "tokens_seen": int(trainer.state.num_input_tokens_seen or 0),
    }
    if prep.val_ds is not None:
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
            prep.embedders.metric(),
            cfg.metric.max_new_tokens,
            cfg.metric.batch_size,
            prep.item_contexts,
        )
        epochs.append(
            {
                "epoch": round(trainer.state.epoch or 0, 4),
                "step": out.global_step,
                "val_metric": res["metric"],
            }
        )
    if epochs:
        emb = prep.embedders.metric()
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
    return metrics, history
