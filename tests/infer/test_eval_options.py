"""The evaluation stage's `-o KEY=VALUE` answerer options (every command's help and example:
tests/mainjob/test_cli_help.py)."""

from __future__ import annotations

import pytest


def test_answerer_options_are_typed_and_run_is_passed():
    from infer.cli import parse_options

    opts = parse_options(["k=5", "weight=0.7", "split=false", "compose=top1", "text=a=b"], run=None)
    assert opts == {"k": 5, "weight": 0.7, "split": False, "compose": "top1", "text": "a=b"}
    assert parse_options([], run="runs/r1") == {"run_dir": "runs/r1"}


def test_malformed_option_is_an_input_error():
    from foundation.errors import InputError
    from infer.cli import parse_options

    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_options(["k5"])
