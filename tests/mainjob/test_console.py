"""`foundation.console.progress()`: a live bar on a terminal; one final line (or nothing) elsewhere."""

from __future__ import annotations

import io
import os

import pytest
from rich.console import Console


def _run_bar(monkeypatch, *, terminal: bool, transient: bool = False) -> str:
    import foundation.console

    buf = io.StringIO()
    monkeypatch.setattr(
        foundation.console, "console", Console(file=buf, force_terminal=terminal, width=80, color_system=None)
    )
    with foundation.console.progress(transient=transient) as bar:
        task = bar.add_task("answering", total=3)
        for _ in range(3):
            bar.advance(task)
        bar.refresh()  # what the refresh thread does on a terminal
    return buf.getvalue()


def test_not_a_terminal_writes_the_final_state_once(monkeypatch):
    text = _run_bar(monkeypatch, terminal=False)
    assert text.count("answering") == 1 and "3/3" in text
    assert "\x1b[" not in text  # no cursor movement in a log file


def test_not_a_terminal_transient_is_quiet(monkeypatch):
    assert _run_bar(monkeypatch, terminal=False, transient=True) == ""


@pytest.mark.parametrize("transient", [False, True])
def test_terminal_redraws_in_place(monkeypatch, transient):
    text = _run_bar(monkeypatch, terminal=True, transient=transient)
    assert "answering" in text and "3/3" in text
    assert "\x1b[" in text  # cursor control: the bar is redrawn, not appended


def test_nested_bars_do_not_crash(monkeypatch):
    import foundation.console

    for terminal in (False, True):
        buf = io.StringIO()
        monkeypatch.setattr(
            foundation.console, "console", Console(file=buf, force_terminal=terminal, width=80)
        )
        with foundation.console.progress() as outer:
            t = outer.add_task("demo", total=1)
            with foundation.console.progress(transient=True) as inner:
                inner.add_task("inner", total=None)
            outer.advance(t)
        assert "demo" in buf.getvalue()


def test_library_bars_are_off_in_a_log_only(monkeypatch):
    import foundation.console

    for var in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(foundation.console, "console", Console(file=io.StringIO(), force_terminal=True))
    foundation.console.quiet_library_bars()
    assert "TQDM_DISABLE" not in os.environ
    monkeypatch.setattr(foundation.console, "console", Console(file=io.StringIO(), force_terminal=False))
    foundation.console.quiet_library_bars()
    assert os.environ["TQDM_DISABLE"] == "1" and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
