"""Load a finished training run (layout: train/RUN_DIR.md) for inference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from foundation.errors import ConfigError


def read_card(run_dir: Path | str) -> dict[str, Any]:
    run_dir = Path(run_dir)
    path = run_dir / "run_card.json"
    if not path.is_file():
        raise ConfigError(
            f"{run_dir} is not a training run folder (no run_card.json); train one with `dobae train`"
        )
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    if card.get("status") != "finished":
        raise ConfigError(
            f"{run_dir}: run status is {card.get('status')!r}, not finished; resume it with "
            "`dobae train --config RUN_DIR/config.toml --resume`"
        )
    return card


def load_run(run_dir: Path | str, *, merge: bool = False, dtype=None, device: str | None = None):
    """(model, tokenizer, card) of a finished run, in eval mode.

    The base model comes from `card["base_model"]["path"]` with the adapter applied (a peft model),
    or the adapter merged into it when `merge=True` (uses RUN_DIR/merged when it was saved).
    dtype default: bf16 on CUDA, fp32 on CPU.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from qa import prompt

    run_dir = Path(run_dir)
    card = read_card(run_dir)
    tmpl = card.get("template", {})
    if (tmpl.get("name"), tmpl.get("version")) != (prompt.TEMPLATE_NAME, prompt.TEMPLATE_VERSION):
        raise ConfigError(
            f"{run_dir} was trained with prompt template {tmpl} but qa/prompt.py is "
            f"{prompt.TEMPLATE_NAME} v{prompt.TEMPLATE_VERSION}: serve it with the matching code version"
        )
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype is None:
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(run_dir / card.get("tokenizer_dir", "tokenizer"))
    merged_dir = card.get("merged_dir")
    if merge and merged_dir and (run_dir / merged_dir / "config.json").exists():
        model = AutoModelForCausalLM.from_pretrained(run_dir / merged_dir, dtype=dtype)
    else:
        base_path = card["base_model"]["path"]
        if card["base_model"].get("kind") != "hub" and not Path(base_path).exists():
            raise ConfigError(
                f"base model folder {base_path} of run {run_dir} is missing: prepare it again "
                f"(`dobae models prepare {card['base_model'].get('spec')}` for a prepared model)"
            )
        base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype)
        model = PeftModel.from_pretrained(base, run_dir / card.get("adapter_dir", "adapter"))
        if merge:
            model = model.merge_and_unload()
    model.to(device)
    model.eval()
    return model, tokenizer, card
