"""Every command of the train stage has help with an example."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.mark.parametrize("command", [["train"], ["models", "prepare"]])
def test_help_has_an_example(command):
    from dobae.cli import app

    res = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "Example:" in res.output and f"dobae {' '.join(command)}" in res.output
