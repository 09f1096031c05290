"""The typed training config: defaults (here) < TOML file < `--set key=value` overrides.

Every field says why it has its default. A file holds only the differences from these defaults;
the resolved config is saved next to the result (RUN_DIR/config.toml and run_card.json).
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from foundation.errors import ConfigError
from foundation.keyvalue import parse_key_values


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Section):
    export: Path = Field(..., description="JSONL export of approved pairs (`dobae export --format jsonl`)")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="share of groups held out (grouped by group_id)")
    min_val_groups: int = Field(
        1, ge=0, description="hold out at least this many groups when val_fraction > 0"
    )
    split_seed: int = Field(
        42, description="seed of the grouped split (fixed: sweeps compare on the same split)"
    )
    context_k: int = Field(
        0,
        ge=0,
        le=16,
        strict=True,  # `true` is not a number of pairs
        description="retrieved training pairs in each prompt (0: none); retrieved from the training "
        "split with the example's own group left out, by qa/retrieval.py; inference serves the "
        "run with the same k by default. Raise train.max_length with it (each pair adds its tokens)",
    )
    context_embedder: str | None = Field(
        None,
        description="embedder of the context retriever (auto|distiluse|muse3|PATH); None: "
        "metric.embedder, else settings.embedder",
    )


class LoraConfig(_Section):
    r: int = Field(16, ge=1, le=1024, description="rank; 16 scored well on the dev data (prior-art.md)")
    alpha: int = Field(32, ge=1, description="scaling alpha; 2·r is the common choice")
    dropout: float = Field(0.05, ge=0, lt=1, description="dropout on the LoRA input")
    target_modules: str | list[str] = Field(
        "all-linear", description="'all-linear' (LoRA's recommended default) or module names"
    )


class TrainSection(_Section):
    epochs: float = Field(1.0, gt=0, description="passes over the training split")
    max_steps: int = Field(-1, description="stop after this many optimiser steps (-1: use epochs)")
    learning_rate: float = Field(2e-4, gt=0, lt=1, description="LoRA wants ~10x the full fine-tune rate")
    batch_size: int = Field(8, ge=1, description="examples per device per micro-batch")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimiser step")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="share of steps with linear warm-up")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    max_length: int = Field(
        256, ge=8, description="max tokens, prompt + answer + EOS (longer: truncated answer)"
    )
    packing: bool = Field(
        False,
        description="padding-free packing of a micro-batch into one row; off: length-grouped batches "
        "were faster on CPU (benchmarks/train_bench.py)",
    )
    group_by_length: bool = Field(True, description="batches of similar length when not packing")
    eval_steps: int = Field(50, ge=1, description="validation loss every N optimiser steps")
    eval_max_examples: int | None = Field(
        None, ge=1, description="cap the validation pairs used for the loss (CPU runs: eval is slow)"
    )
    save_steps: int = Field(50, ge=1, description="checkpoint every N optimiser steps (resume point)")
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept")
    logging_steps: int = Field(10, ge=1)
    seed: int = Field(42, description="seed of init, dropout and shuffling")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto: bf16 on GPU, fp32 on CPU")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (None: torch's default)")
    gradient_checkpointing: bool = Field(False, description="trade compute for memory on long sequences")


class MetricConfig(_Section):
    enabled: bool = Field(True, description="competition metric on a validation subset at each epoch end")
    max_questions: int = Field(64, ge=1, description="validation groups scored (generation is the slow part)")
    max_new_tokens: int = Field(120, ge=1, description="answer length; the scorer reads ~128 word-pieces")
    batch_size: int = Field(16, ge=1, description="questions per generate() call")
    embedder: str | None = Field(None, description="auto|distiluse|muse3|PATH; None: settings.embedder")


class OutputConfig(_Section):
    dir: Path = Field(Path("runs"), description="runs are written to DIR/NAME")
    name: str | None = Field(None, description="run name; default: config file stem")
    merge: bool = Field(False, description="also save the adapter merged into the base (RUN_DIR/merged)")
    register_run: bool = Field(True, description="record the run in the training_runs table")


SWEEPABLE = {
    "train.learning_rate",
    "train.epochs",
    "train.max_length",
    "train.batch_size",
    "train.grad_accum",
    "train.warmup_ratio",
    "train.max_steps",
    "lora.r",
    "lora.alpha",
    "lora.dropout",
    "data.context_k",
}


class TrainConfig(_Section):
    base_model: str = Field("gemma3-270m", description="model folder, cached hub id or a prepared name")
    data: DataConfig
    lora: LoraConfig = Field(default_factory=LoraConfig)
    train: TrainSection = Field(default_factory=TrainSection)
    metric: MetricConfig = Field(default_factory=MetricConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    sweep: dict[str, list[Any]] = Field(
        default_factory=dict, description="dotted field → values; `--sweep` trains every combination"
    )

    @field_validator("sweep")
    @classmethod
    def _sweep_fields(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            if key not in SWEEPABLE:
                raise ValueError(
                    f"sweep field {key!r} is not sweepable; use one of {', '.join(sorted(SWEEPABLE))}"
                )
            if not isinstance(values, list) or not values:
                raise ValueError(f"sweep field {key!r} needs a non-empty list of values")
        return v

    def run_name(self) -> str:
        return self.output.name or "run"

    def sweep_combinations(self) -> list[dict[str, Any]]:
        keys = sorted(self.sweep)
        return [
            dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(self.sweep[k] for k in keys))
        ]

    def with_values(self, values: dict[str, Any]) -> TrainConfig:
        data = self.model_dump(mode="python")
        for key, value in values.items():
            _set_dotted(data, key, value)
        return _validate(data, "sweep values")


def _set_dotted(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value


def _validate(data: dict, source: str) -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None


def load_config(path: Path | str, overrides: list[str] | None = None) -> TrainConfig:
    """Read a TOML config, apply `key=value` overrides (dotted keys), validate.

    Relative paths in `data.export` and `output.dir` are taken relative to the current directory.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    for key, value in parse_key_values(
        overrides, "--set", "train.learning_rate=1e-4", typed=True, error=ConfigError
    ).items():
        _set_dotted(data, key, value)
    data.setdefault("output", {}).setdefault("name", path.stem)
    return _validate(data, str(path))


def dump_toml(cfg: TrainConfig) -> str:
    import tomli_w

    data = cfg.model_dump(mode="json", exclude_none=True)
    return tomli_w.dumps(data)
