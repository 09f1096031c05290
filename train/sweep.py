"""`dobae train --sweep`: train every combination of the config's `[sweep]` values, score each on
the validation split with the competition metric, register every run, print a ranked table.

State lives in the runs themselves: a member whose run card says `finished` is skipped on re-run,
an unfinished one resumes from its last checkpoint. So an interrupted sweep resumes with the
same command.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from foundation.errors import ConfigError
from train.config import TrainConfig


def member_name(values: dict[str, Any]) -> str:
    parts = [f"{k.split('.')[-1]}={v}" for k, v in sorted(values.items())]
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", ",".join(parts))


def sweep_id(cfg: TrainConfig) -> str:
    body = json.dumps(cfg.model_dump(mode="json"), sort_keys=True).encode()
    return f"{cfg.run_name()}-{hashlib.sha256(body).hexdigest()[:8]}"


def run_sweep(cfg: TrainConfig, *, embedder=None, callbacks=None) -> list[dict[str, Any]]:
    """Train (or resume, or skip) each member; return rows ranked best first."""
    from train.trainer import run_training

    if not cfg.sweep:
        raise ConfigError(
            '--sweep needs a [sweep] table in the config, e.g. "train.learning_rate" = [1e-4, 2e-4]'
        )
    sid = sweep_id(cfg)
    root = Path(cfg.output.dir) / cfg.run_name()
    rows = []
    for values in cfg.sweep_combinations():
        member = cfg.with_values(values)
        member.output.dir = root
        member.output.name = member_name(values)
        member.sweep = {}
        res = run_training(
            member,
            resume=True,
            sweep={"sweep_id": sid, "values": values},
            embedder=embedder,
            callbacks=callbacks,
        )
        m = res.card.get("metrics", {})
        rows.append(
            {
                "run": member.output.name,
                "values": values,
                "metric": m.get("metric"),
                "eval_loss": m.get("eval_loss"),
                "run_dir": str(res.run_dir),
            }
        )
    return rank_rows(rows)


def rank_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best first: higher metric; without a metric, lower eval loss."""

    def key(r):
        metric = r.get("metric")
        loss = r.get("eval_loss")
        return (0 if metric is not None else 1, -(metric or 0.0), loss if loss is not None else float("inf"))

    return sorted(rows, key=key)


def print_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from foundation.console import out

    keys = sorted({k for r in rows for k in r["values"]})
    table = Table(title="sweep, best first")
    table.add_column("#", justify="right")
    for k in keys:
        table.add_column(k)
    table.add_column("metric", justify="right")
    table.add_column("eval loss", justify="right")
    table.add_column("run dir")
    for i, r in enumerate(rows, 1):
        table.add_row(
            str(i),
            *[str(r["values"].get(k)) for k in keys],
            "-" if r["metric"] is None else f"{r['metric']:.4f}",
            "-" if r["eval_loss"] is None else f"{r['eval_loss']:.4f}",
            r["run_dir"],
        )
    out.print(table)
