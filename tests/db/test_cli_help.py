"""Every command of the database stage has help with an example."""

from __future__ import annotations

import pytest

COMMANDS = [
    ["db", "upgrade"],
    ["db", "downgrade"],
    ["db", "current"],
    ["import", "dacon"],
    ["export"],
    ["review", "import"],
    ["review", "status"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_an_example(command, cli):
    code, out, err = cli(*command, "--help")
    assert code == 0, err
    assert "Example:" in out and "dobae " + command[0] in out
