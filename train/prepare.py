"""Training, step 1 of 4 (train/trainer.py): everything the loop needs before a model exists —
the run folder's state (resume or refuse), the data and its grouped split, device and precision,
the tokenizer, the retrieved context and the encoded datasets. Heavy imports stay inside."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.console import console
from foundation.errors import ConfigError
from qa.pairs import ExportData, read_export
from train.config import TrainConfig
from train.data import encode_with_context, metric_items, split_by_group
from train.models import ResolvedModel, resolve_base_model


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


@dataclass
class RunFolder:
    """What RUN_DIR already holds: the card of an earlier start and its last checkpoint."""

    run_dir: Path
    old_card: dict[str, Any] | None
    last_ckpt: str | None

    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def finished(self) -> bool:
        return bool(self.old_card and self.old_card.get("status") == "finished")


def check_run_folder(cfg: TrainConfig, *, resume: bool) -> RunFolder:
    """RUN_DIR's state; a finished run (unless resuming) or an unfinished one (without --resume)
    is refused with what to do."""
    from transformers.trainer_utils import get_last_checkpoint

    run_dir = Path(cfg.output.dir) / cfg.run_name()
    card_path = run_dir / "run_card.json"
    old_card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else None
    ckpt_dir = run_dir / "checkpoints"
    last_ckpt = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    found = RunFolder(run_dir, old_card, last_ckpt)
    if found.finished and not resume:
        raise ConfigError(f"{run_dir} already holds a finished run: choose another output.name or delete it")
    if (old_card or last_ckpt) and not resume:
        raise ConfigError(
            f"{run_dir} holds an unfinished run: pass --resume to continue it, or choose another output.name"
        )
    return found


class Embedders:
    """`given` when set (tests), else the embedder a spec names, each loaded once on first use."""

    def __init__(self, given, metric_spec: str | None) -> None:
        self.given, self.metric_spec = given, metric_spec
        self._loaded: dict[str | None, Any] = {}

    def get(self, spec: str | None):
        if self.given is not None:
            return self.given
        if spec not in self._loaded:
            from qa.embedders import load_embedder

            self._loaded[spec] = load_embedder(spec)
        return self._loaded[spec]

    def metric(self):
        """The embedder that scores generated answers (`metric.embedder`)."""
        return self.get(self.metric_spec)


@dataclass
class Prepared:
    folder: RunFolder
    base: ResolvedModel
    data: ExportData
    train_pairs: list
    val_pairs: list
    items: list  # (question, reference answers) the competition metric scores
    cuda: bool
    precision: str  # "bf16" or "fp32"
    main: bool  # rank 0: the process that prints and writes
    tokenizer: Any
    embedders: Embedders
    train_ds: Any  # datasets.Dataset
    val_ds: Any  # None without validation pairs
    collator: Callable
    context_info: dict[str, Any]  # the run card's `context`
    item_contexts: list | None  # retrieved pairs per metric question (context runs)

    @property
    def run_dir(self) -> Path:
        return self.folder.run_dir


def prepare(cfg: TrainConfig, folder: RunFolder, embedder=None) -> Prepared:
    """Base model path, data split, metric items, device/precision, tokenizer, context, datasets."""
    import torch
    from transformers import AutoTokenizer

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

    tokenizer = AutoTokenizer.from_pretrained(base.path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    main = rank() == 0
    embedders = Embedders(embedder, cfg.metric.embedder)
    sets = _datasets(cfg, tokenizer, train_pairs, val_pairs, items, embedders, main)
    return Prepared(
        folder, base, data, train_pairs, val_pairs, items, cuda, precision, main, tokenizer, embedders, *sets
    )


def _datasets(cfg: TrainConfig, tokenizer, train_pairs, val_pairs, items, embedders: Embedders, main: bool):
    """(train set, validation set, collator, context info, the metric questions' contexts): the
    retrieved context (when `data.context_k`), the encoded sets and their collator."""
    from datasets import Dataset

    k = cfg.data.context_k
    val_used = val_pairs[: cfg.train.eval_max_examples] if cfg.train.eval_max_examples else val_pairs
    context_info: dict[str, Any] = {"k": k}
    train_ctx = val_ctx = item_contexts = None
    if k:
        if not train_pairs:
            raise ConfigError("no training pairs left after the validation split: lower data.val_fraction")
        from qa.retrieval import make_retriever
        from train.context import embedder_spec, excluded_groups, retrieve_contexts

        ctx_emb = embedders.get(cfg.data.context_embedder or cfg.metric.embedder)
        if main:
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
        if short and main:
            console.print(
                f"[yellow]note:[/yellow] {short:d} of {len(train_kept)} training examples lost context pairs "
                f"to train.max_length = {cfg.train.max_length:d} (mean {context_info['pairs_per_example']:g} of "
                f"{k:d} kept); raise train.max_length to keep them",
                markup=True,
            )
    return (*_collate(cfg, tokenizer, train_ds, val_ds), context_info, item_contexts)


def _collate(cfg: TrainConfig, tokenizer, train_ds, val_ds):
    """(train set, validation set, collator): packed rows, or padded batches whose `length`
    column feeds the length-grouped sampler."""
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening

    if cfg.train.packing:
        train_ds = train_ds.remove_columns("length")
        val_ds = val_ds.remove_columns("length") if val_ds is not None else None
        return train_ds, val_ds, DataCollatorWithFlattening()
    pad = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)

    def collator(features):  # `length` feeds the length-grouped sampler, not the model
        return pad([{k: v for k, v in f.items() if k != "length"} for f in features])

    return train_ds, val_ds, collator
