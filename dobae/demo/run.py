"""`dobae demo`'s runner: the steps in order (`STEPS`), each timed, its outcome printed; a step
that fails blocks the steps that depend on it, the others still run. The summary table at the end."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from dobae.demo.steps import STEPS
from dobae.demo.steps.answering import INFER_LIMIT
from dobae.demo.steps.context import DemoContext
from foundation.console import console, esc
from foundation.errors import DobaeError, InputError
from foundation.settings import Settings, get_settings


@dataclass
class StepResult:
    name: str
    status: str = "pending"  # done | skipped | failed | blocked
    detail: str = ""
    seconds: float = 0.0


def run_demo(
    train_csv: Path | None = None,
    test_csv: Path | None = None,
    *,
    settings: Settings | None = None,
    only: list[str] | None = None,
    infer_limit: int | None = None,
) -> list[StepResult]:
    """Run the demo steps (all, or `only` these); returns one result per step. The LoRA run answers
    the first `infer_limit` test questions (0: all); the submit step submits the best measured
    answerer (the LoRA run only when its validation metric beats the others)."""
    from db.migrate import ensure_schema

    known = [n for n, _f, _d in STEPS]
    for name in only or []:
        if name not in known:
            raise InputError(f"--step {name!r}: use one of {', '.join(known)}")
    settings = settings or get_settings()
    work = settings.data_dir / "demo"
    work.mkdir(parents=True, exist_ok=True)
    ensure_schema(settings.db_url)
    os.environ.setdefault("DOBAE_DATABASE_URL", settings.db_url)  # the crawl subprocess uses the same DB
    if infer_limit is None:
        infer_limit = INFER_LIMIT
    if infer_limit < 0:
        raise InputError(f"--infer-limit {infer_limit}: use 0 (all test questions) or a positive number")
    ctx = DemoContext(settings, train_csv, test_csv, work, state={"infer_limit": infer_limit})
    ctx.out.mkdir(parents=True, exist_ok=True)
    inputs = (
        f"train {train_csv or '-'}, test {test_csv or '-'}"
        if train_csv or test_csv
        else "the DACON-format sample shipped in db/sample/"
    )
    console.print(
        f"dobae demo: database {settings.db_url}; data: {inputs}; outputs in {ctx.out}", markup=False
    )
    results: dict[str, StepResult] = {}
    names = [n for n, _f, _d in STEPS if not only or n in only]
    for i, (name, fn, deps) in enumerate(STEPS, 1):
        if name not in names:
            continue
        r = results[name] = StepResult(name)
        console.rule(f"step {i}/{len(STEPS)}: {name}", style="bold")
        bad = [d for d in deps if d in results and results[d].status in ("failed", "blocked")]
        if bad:
            r.status, r.detail = "blocked", f"needs {', '.join(bad)}"
            console.print(f"[yellow]blocked[/yellow]: {esc(r.detail)}", markup=True)
            continue
        t0 = time.perf_counter()
        try:
            outcome = fn(ctx)
            r.status = "skipped" if outcome.skipped else "done"
            r.detail = outcome.detail
            console.print(
                f"[green]{esc(r.status)}[/green] {esc(outcome.detail)}", markup=True, soft_wrap=True
            )
        except DobaeError as exc:
            r.status, r.detail = "failed", str(exc)
            console.print(f"[red]FAILED[/red] {esc(name)}: {esc(exc)}", markup=True, soft_wrap=True)
        r.seconds = time.perf_counter() - t0
    return list(results.values())


def print_summary(results: list[StepResult], total_s: float) -> None:
    from rich.table import Table
    from rich.text import Text

    t = Table(title=f"dobae demo — {total_s:.0f} s")
    t.add_column("step")
    t.add_column("status")
    t.add_column("seconds", justify="right")
    t.add_column("what happened", overflow="fold")
    colour = {"done": "green", "skipped": "cyan", "failed": "red", "blocked": "yellow"}
    for r in results:
        t.add_row(r.name, Text(r.status, style=colour.get(r.status, "white")), f"{r.seconds:.1f}", r.detail)
    console.print(t)
