"""An invalid `DOBAE_*` value is one line naming the variable and what it accepts, exit 1, on every
command (`dobae config` included), in a real `dobae` process: no pydantic traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _dobae(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("DOBAE_")}
    full.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "dobae.cli", *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("var", "value", "says"),
    [
        ("DOBAE_LLM__TIMEOUT_S", "abc", "DOBAE_LLM__TIMEOUT_S='abc': Input should be a valid number"),
        ("DOBAE_SEED", "x", "DOBAE_SEED='x': Input should be a valid integer"),
        (
            "DOBAE_LLM__CONCURRENCY",
            "0",
            "DOBAE_LLM__CONCURRENCY='0': Input should be greater than or equal to 1",
        ),
        ("DOBAE_LLM__TRANSPORT", "curl", "DOBAE_LLM__TRANSPORT='curl': Input should be 'sdk' or 'aiohttp'"),
        (
            "DOBAE_AUGMENT__GATES__ORDER",
            "empty",
            "DOBAE_AUGMENT (or a DOBAE_AUGMENT__… variable): a group or a list must be JSON",
        ),
        ("DOBAE_FETCH__MAX_MB", "-1", "DOBAE_FETCH__MAX_MB='-1': Input should be greater than 0"),
    ],
)
@pytest.mark.parametrize("command", [("config",), ("status",), ("docs", "list")])
def test_an_invalid_setting_is_one_line(var, value, says, command, cli, tmp_path, monkeypatch):
    from foundation.settings import reset_settings

    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("DOBAE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(var, value)
    reset_settings()
    code, out, err = cli(*command)
    reset_settings()
    assert code == 1, err
    assert "Traceback" not in err and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid setting: "), err
    assert says in lines[0]
    assert not (tmp_path / "data").exists()  # nothing created before the settings were read


def test_a_bad_value_in_dot_env_is_named_too(tmp_path):
    """A real `dobae` process, settings from a `.env` file in the working folder."""
    (tmp_path / ".env").write_text("DOBAE_LLM__MAX_RETRIES=many\n", encoding="utf-8")
    proc = _dobae("config", env={}, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "DOBAE_LLM__MAX_RETRIES='many': Input should be a valid integer" in proc.stderr


def test_secrets_are_not_echoed():
    """A value that fails for a secret-looking setting is named, its value is not printed."""
    from foundation.settings import _setting_problem

    err = {"loc": ("llm", "api_key"), "input": "sk-very-secret", "msg": "Input should be a valid string"}
    assert _setting_problem(err) == "DOBAE_LLM__API_KEY: Input should be a valid string"
