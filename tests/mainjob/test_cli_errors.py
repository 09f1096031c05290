"""Every usage error of every `dobae` command is click's usage line and one error line, exit 2, no
traceback; the commands are walked from the typer app itself, so a new command is covered."""

from __future__ import annotations

import pytest

from tests.mainjob.conftest import command_tree

ALL = command_tree()
COMMANDS = [p for p, _cmd in ALL]
GROUPS = [p for p, cmd in ALL if hasattr(cmd, "commands")]


def _is_usage_error(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0].startswith("Usage: "), err
    assert [line for line in lines if line.startswith("Error: ")] == [lines[-1]], err
    assert needle in lines[-1], err
    assert "Traceback" not in err and "╭" not in err, err
    assert len(lines) <= 4, err


def test_the_walk_finds_every_stage():
    assert len(COMMANDS) > 30
    for path in [("import", "dacon"), ("export",), ("status",), ("db", "downgrade"), ("sandbox", "serve")]:
        assert path in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "dobae")
def test_unknown_option_is_a_usage_error(path, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a command that ran anyway would write here, not in the checkout
    code, _out, err = cli(*path, "--no-such-option")
    _is_usage_error(code, err, "No such option: --no-such-option")
    assert not any(tmp_path.iterdir()), "a usage error must not write anything"


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "dobae")
def test_unknown_subcommand_is_a_usage_error(path, cli):
    code, _out, err = cli(*path, "no-such-command")
    _is_usage_error(code, err, "No such command 'no-such-command'")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["improt"], "Did you mean 'import'?"),
        (["import", "dacn"], "Did you mean 'dacon'?"),
        (["export"], "Missing option '--out'"),
        (["sandbox", "serve", "--port", "abc"], "Invalid value for '--port'"),
        (["status", "extra"], "unexpected extra argument"),
        (["import", "dacon", "--sample", "--test", "x"], "give no files with it"),
    ],
    ids=" ".join,
)
def test_reproductions_from_the_issue(args, needle, cli):
    code, _out, err = cli(*args)
    _is_usage_error(code, err, needle)


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "dobae")
def test_a_group_alone_prints_its_help(path, cli):
    code, out, err = cli(*path)
    assert code == 2, err
    assert "Usage: " in out + err and "Traceback" not in out + err
