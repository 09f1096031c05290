"""Every group and command of `dobae`, walked from the typer app itself (a new command is covered
without editing this test): `dobae X --help` exits 0 and its help has an `Example:` whose command
lines are real: each starts with `dobae` (after `VAR=value` settings), names commands that exist,
and passes click's own parsing of that command (known options, values of the right type, no extra
arguments). At least one example runs the command itself (for a group: one of its commands)."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.mainjob.conftest import command_tree

ALL = command_tree()
ROOT = ALL[0][1]
SETTING = re.compile(r"^[A-Z][A-Z0-9_]*=")


def examples(help_text: str) -> list[str]:
    """The command lines quoted in backticks after `Example:`, up to the end of that paragraph."""
    _, found, rest = help_text.partition("Example:")
    if not found:
        return []
    return re.findall(r"`([^`]+)`", rest.split("\n\n")[0])


def parse_example(line: str) -> tuple[str, ...]:
    """The command path of one `dobae …` command line, after click parsed its arguments."""
    words = shlex.split(line)
    while words and SETTING.match(words[0]):
        words.pop(0)
    assert words and words[0] == "dobae", f"{line!r} does not start with `dobae `"
    args = words[1:]
    ctx = ROOT.make_context("dobae", list(args), resilient_parsing=True)
    cmd, path = ROOT, ()
    while hasattr(cmd, "commands") and args and args[0] in cmd.commands:
        cmd, path, args = cmd.commands[args[0]], (*path, args[0]), args[1:]
        if hasattr(cmd, "commands"):
            ctx = cmd.make_context(path[-1], list(args), parent=ctx, resilient_parsing=True)
    assert not hasattr(cmd, "commands"), f"{line!r}: `dobae {' '.join(path)}` is a group, not a command"
    # strict: unknown options, bad values, missing or extra arguments are usage errors here
    cmd.make_context(path[-1], list(args), parent=ctx)
    return path


def test_the_walk_finds_every_group_and_command():
    paths = [p for p, _ in ALL]
    assert len(paths) > 40
    for path in [
        (),
        ("db",),
        ("db", "downgrade"),
        ("import", "dacon"),
        ("review", "serve"),
        ("models", "prepare"),
    ]:
        assert path in paths


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=lambda p: " ".join(p) or "dobae")
def test_help_has_a_real_example(path, cli):
    cmd = dict(ALL)[path]
    code, out, err = cli(*path, "--help")
    assert code == 0, err
    assert "Example:" in out, out
    lines = examples(cmd.help or "")
    assert lines, f"`dobae {' '.join(path)}` help has no `Example:` with a command line in backticks"
    ran = [parse_example(part) for line in lines for part in line.split("&&")]
    assert any(p[: len(path)] == path for p in ran), f"no example runs `dobae {' '.join(path)}`: {lines}"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("python -m dobae status", "does not start with `dobae `"),
        ("dobae db", "is a group"),
        ("dobae status --no-such-option", "No such option"),
        ("dobae crawl runs --limit many", "valid integer"),
        ("dobae status extra", "unexpected extra argument"),
    ],
)
def test_a_made_up_example_is_caught(line, problem):
    with pytest.raises(Exception, match=problem):
        parse_example(line)
