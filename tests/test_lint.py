"""The type checker is part of the suite: `mypy` (configured in pyproject.toml's `[tool.mypy]`:
the database, the QA core and the foundation) finds no error, as `make lint` requires, and it does
fail on a type error, so a green run means the checker really ran. mypy's cache lives in pytest's
cache folder (`.pytest_cache/`, outside the source tree): a cold run takes ~15 s of CPU, a warm one ~1 s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("foundation", "qa", "db")


def _mypy(cache: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache), "--no-color-output", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture(scope="module")
def mypy_cache(request, tmp_path_factory) -> Path:
    """pytest's cache folder when there is one (warm across runs), else a fresh folder
    (`-p no:cacheprovider`)."""
    cache = getattr(request.config, "cache", None)
    return cache.mkdir("mypy") if cache is not None else tmp_path_factory.mktemp("mypy")


def test_mypy_is_clean_on_the_lower_layers(mypy_cache):
    proc = _mypy(mypy_cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # every module of the three packages is checked (Alembic's migration scripts included)
    n_files = sum(1 for package in CHECKED for _ in (ROOT / package).rglob("*.py"))
    assert f"Success: no issues found in {n_files} source files" in proc.stdout, proc.stdout


def test_mypy_fails_on_a_type_error(mypy_cache, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from db.sources import ensure_source\n\n"
        "def f(session) -> str:\n"
        "    return ensure_source(session, 'x', 'dataset')\n",
        encoding="utf-8",
    )
    proc = _mypy(mypy_cache, str(bad))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'Incompatible return value type (got "int", expected "str")' in proc.stdout, proc.stdout
