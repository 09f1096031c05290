"""The shared rich console and progress bar (stderr keeps stdout clean for data)."""

from __future__ import annotations

import os

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def progress(transient: bool = False) -> Progress:
    """A progress bar for long work: description, bar, n/total, elapsed, remaining.

    On a terminal it redraws in place (and vanishes when it stops if `transient`). Anywhere else (a
    log file, a pipe, CI) nothing is redrawn and no refresh thread runs: the bar's final state is
    written once when it stops, or nothing if `transient`, so logs stay short. Bars may nest (a
    stage's bar inside the demo's): rich stacks live displays.
    """
    live = console.is_terminal and not console.is_dumb_terminal
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        auto_refresh=live,
        disable=transient and not live,
    )


def quiet_library_bars() -> None:
    """Off a terminal, the libraries' tqdm bars (transformers' weight loading, the GGUF conversion,
    datasets' map) would fill logs with carriage-return redraws: turn them off for this process and
    the processes it starts. Must run before tqdm is imported (the `dobae` command does it first)."""
    if console.is_terminal and not console.is_dumb_terminal:
        return
    for var in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(var, "1")
