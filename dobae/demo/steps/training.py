"""The demo's training steps: export the approved pairs, then a short CPU LoRA run on them."""

from __future__ import annotations

from dobae.demo.processes import ROOT
from dobae.demo.steps.context import DemoContext, Outcome, llm_model_dir, lora_run_dir


def step_export(ctx: DemoContext) -> Outcome:
    from db import export
    from db.session import session_scope
    from db.summary import latest_export

    out = ctx.out / "approved.jsonl"
    with session_scope(ctx.url) as s:
        rec = latest_export(s, str(out.resolve()))
    if out.is_file() and rec and export.sha256_file(out) == rec.sha256:
        ctx.state["export"] = out
        return Outcome(
            f"skip: {out} already exported ({rec.rows} approved pairs, sha256 {rec.sha256[:12]})",
            skipped=True,
        )
    res = export.export_pairs(out, "jsonl", statuses=["approved"], url=ctx.url)
    ctx.state["export"] = out
    return Outcome(f"exported {res.rows} approved pairs to {out} (sha256 {res.sha256[:12]})")


def step_train(ctx: DemoContext) -> Outcome:
    from train import config, trainer

    run_dir = lora_run_dir(ctx)
    card = run_dir / "run_card.json"
    if card.exists():
        import json

        c = json.loads(card.read_text(encoding="utf-8"))
        if c.get("status") == "finished":
            return Outcome(
                f"skip: {run_dir} already trained (train_loss {c.get('metrics', {}).get('train_loss')})",
                skipped=True,
            )
    llm_model_dir(ctx)
    cfg = config.load_config(
        ROOT / "train/configs/cpu-smoke.toml",
        [
            f"data.export={ctx.out / 'approved.jsonl'}",
            f"output.dir={run_dir.parent}",
            "output.name=demo",
            f"train.max_steps={ctx.state.get('train_steps', 12)}",
        ],
    )
    res = trainer.run_training(cfg, resume=(run_dir / "checkpoints").is_dir())
    m = res.card.get("metrics", {})
    return Outcome(
        "trained "
        + ", ".join(
            f"{k} {m[k]:.4f}"
            for k in ("train_loss", "eval_loss", "metric")
            if isinstance(m.get(k), int | float)
        )
        + f" → {res.run_dir}"
    )
