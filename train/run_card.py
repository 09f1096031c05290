"""Training, step 4 of 4 (train/trainer.py): what a run writes (layout: train/RUN_DIR.md) — the
resolved config and a `running` card before the loop starts, then the adapter, the tokenizer, the
merged model (`output.merge`), the log and the `finished` card; the database row beside it
(train/registry.py). Only rank 0 writes."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from train.config import TrainConfig, dump_toml
from train.prepare import Prepared
from train.registry import register_end, register_start

CARD_FORMAT = 1


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


def write_card(run_dir: Path, card: dict[str, Any]) -> None:
    tmp = run_dir / "run_card.json.tmp"
    tmp.write_text(json.dumps(card, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    tmp.replace(run_dir / "run_card.json")


def _template() -> dict[str, str]:
    from qa import prompt

    return {"name": prompt.TEMPLATE_NAME, "version": prompt.TEMPLATE_VERSION}


def new_card(cfg: TrainConfig, prep: Prepared, args, sweep: dict[str, Any] | None) -> dict[str, Any]:
    """The `running` card; a resumed run keeps its first start time and database row."""
    old_card = prep.folder.old_card
    data, base, t = prep.data, prep.base, cfg.train
    return {
        "format": CARD_FORMAT,
        "name": cfg.run_name(),
        "status": "running",
        "run_dir": str(prep.run_dir),
        "base_model": {"spec": base.spec, "path": base.path, "kind": base.kind},
        "adapter_dir": "adapter",
        "tokenizer_dir": "tokenizer",
        "merged_dir": None,
        "template": _template(),
        "context": prep.context_info,
        "eos_token": prep.tokenizer.eos_token,
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
            "train_rows": len(prep.train_pairs),
            "val_rows": len(prep.val_pairs),
            "val_groups": len({p.group_id for p in prep.val_pairs}),
        },
        "config": cfg.model_dump(mode="json"),
        "metrics": {},
        "git_commit": git_commit(),
        "training_run_id": (old_card or {}).get("training_run_id"),
        "sweep": sweep,
        "started_at": (old_card or {}).get("started_at") or _now(),
        "finished_at": None,
        "device": "cuda" if prep.cuda else "cpu",
        "dtype": prep.precision,
        "world_size": args.world_size,
        "parallel_mode": args.parallel_mode.value,
    }


def start_run(cfg: TrainConfig, prep: Prepared, card: dict[str, Any], sweep: dict[str, Any] | None) -> None:
    """RUN_DIR with config.toml and the `running` card; the database row registered once."""
    if not prep.main:
        return
    run_dir = prep.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(dump_toml(cfg), encoding="utf-8")
    if cfg.output.register_run and card["training_run_id"] is None:
        card["training_run_id"] = register_start(cfg, card, (sweep or {}).get("sweep_id"))
    write_card(run_dir, card)


def finish_run(
    cfg: TrainConfig,
    prep: Prepared,
    model,
    card: dict[str, Any],
    metrics: dict[str, Any],
    history: list[dict[str, Any]],
) -> None:
    """Adapter, tokenizer, merged model (`output.merge`), log.jsonl, the `finished` card, the row."""
    if not prep.main:
        return
    run_dir, tokenizer = prep.run_dir, prep.tokenizer
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
        register_end(card["training_run_id"], "finished", metrics)
