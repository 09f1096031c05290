"""The shared rich console and progress bar (stderr keeps stdout clean for data).

Text that did not come from the code (titles, answers, reasons, names, file names, URLs) is printed
as it is: both consoles read no markup (`[/x]` in a title is text, not a closing tag that would
raise) and no emoji codes (`:smile:` stays), so a plain `console.print(value)`, a Table cell and a
progress description are always safe. A line with styling passes `markup=True` and wraps every
value in `esc()`: `console.print(f"[yellow]warning:[/yellow] {esc(reason)}", markup=True)`;
`tests/mainjob/test_console_markup.py` checks every call in the code for both rules.
"""

from __future__ import annotations

import os

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True, highlight=False, markup=False, emoji=False)
out = Console(highlight=False, markup=False, emoji=False)


def esc(value: object) -> str:
    """`value` as text for a `markup=True` line: anything that rich would read as a tag is escaped."""
    return escape(str(value))


def progress(transient: bool = False) -> Progress:
    """A progress bar for long work: description, bar, n/total, elapsed, remaining.

    On a terminal it redraws in place (and vanishes when it stops if `transient`). Anywhere else (a
    log file, a pipe, CI) nothing is redrawn and no refresh thread runs: the bar's final state is
    written once when it stops, or nothing if `transient`, so logs stay short. Bars may nest (a
    stage's bar inside the demo's): rich stacks live displays.
    """
    live = console.is_terminal and not console.is_dumb_terminal
    return Progress(
        TextColumn("{task.description}", style="bold", markup=False),
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
