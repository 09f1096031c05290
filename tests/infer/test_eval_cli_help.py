"""Every command of the evaluation stage has help with an example."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner


@pytest.mark.parametrize("command", ["evaluate", "score", "submit"])
def test_help_has_an_example(command):
    from dobae.cli import app

    res = CliRunner().invoke(app, [command, "--help"])
    assert res.exit_code == 0, res.output
    assert "Example:" in res.output and f"dobae {command}" in res.output
