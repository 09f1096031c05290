"""Shared fixtures. Threads pinned to 1 (2-core machines: 2 threads were 14-20x slower under load).

Database tests take the `db_url` fixture: it runs each test on a migrated SQLite file and, when
`DOBAE_TEST_DATABASE_URL` points at PostgreSQL (as `.ci/run` sets it), on PostgreSQL too.
In CI (`CI=true`) a missing PostgreSQL URL is an error, never a skip.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
    os.environ.setdefault(_var, "1" if _var != "TOKENIZERS_PARALLELISM" else "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from file_order import (  # noqa: E402,F401 - hooks: the longest files first (tests/file_order.py)
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_runtest_logreport,
    pytest_sessionfinish,
)


def _isolate_xdist_worker() -> None:
    """Under pytest-xdist (`make test` runs `-n auto`) each worker gets its own PostgreSQL database
    (`dobae_test_gw0`, … created here: .ci/pg.sh gives the role CREATEDB) and its own Redis database
    index, so workers never see each other's rows or queues. Temp folders and ports are already per
    test (tmp_path, free ports). Runs before any test module reads the URLs."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    n = int(worker[2:])
    pg = os.environ.get("DOBAE_TEST_DATABASE_URL", "")
    if pg:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        base = make_url(pg)
        name = f"{base.database}_{worker}"
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        os.environ["DOBAE_TEST_DATABASE_URL"] = base.set(database=name).render_as_string(hide_password=False)
    redis = os.environ.get("DOBAE_TEST_REDIS_URL", "")
    if redis:
        os.environ["DOBAE_TEST_REDIS_URL"] = f"{redis.rsplit('/', 1)[0]}/{1 + n % 15}"


_isolate_xdist_worker()
PG_URL = os.environ.get("DOBAE_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _backends() -> list:
    params = [pytest.param("sqlite", id="sqlite")]
    if PG_URL or IN_CI:
        params.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))
    return params


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    from db.migrate import upgrade
    from db.session import dispose_engines

    path = tmp_path_factory.mktemp("dbtemplate") / "template.db"
    upgrade(f"sqlite:///{path}")
    dispose_engines()
    return path


@pytest.fixture(scope="session")
def _postgres_migrated() -> str:
    if not PG_URL:
        pytest.fail("CI=true but DOBAE_TEST_DATABASE_URL is not set: .ci/run must start PostgreSQL")
    from db.migrate import downgrade, upgrade

    downgrade(PG_URL, "base")  # a leftover schema from an earlier run must not leak into this one
    upgrade(PG_URL)
    return PG_URL


def _truncate_postgres(url: str) -> None:
    from sqlalchemy import text

    from db.models import Base
    from db.session import get_engine

    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with get_engine(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=_backends())
def db_url(request, tmp_path, monkeypatch) -> str:
    """A freshly migrated, empty database URL; also exported as DOBAE_DATABASE_URL for the CLI."""
    from db.session import dispose_engines
    from foundation.settings import reset_settings

    if request.param == "sqlite":
        path = tmp_path / "dobae.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("_postgres_migrated")
        _truncate_postgres(url)
    monkeypatch.setenv("DOBAE_DATABASE_URL", url)
    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    yield url
    dispose_engines()
    reset_settings()


@pytest.fixture
def sqlite_url(tmp_path, monkeypatch, _sqlite_template) -> str:
    """A migrated SQLite database only (for tests that are not about the database backend)."""
    from db.session import dispose_engines
    from foundation.settings import reset_settings

    path = tmp_path / "dobae.db"
    shutil.copy(_sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DOBAE_DATABASE_URL", url)
    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    yield url
    dispose_engines()
    reset_settings()


@pytest.fixture
def cli(capsys):
    """Run `dobae ARGS` in-process; returns (exit code, stdout, stderr)."""
    from dobae.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


class FakeClock:
    """A clock that waits without waiting: `await clock.sleep(s)` records `s` and moves `now` on.

    Given to the code's one waiting place (`obj.sleep = clock.sleep`), retry, throttle and Retry-After
    tests assert the waits asked for, never wall time, so they pass the same on a busy machine."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


DEBIAN_PACKAGES = (
    "chromium",
    "postgresql",
    "redis-server",
    "fonts-nanum",
)  # what `make system-deps` installs


def pytest_terminal_summary(terminalreporter) -> None:
    """Every run says which Debian packages it saw (apt cannot pin what the mirror drops; docs/database.md
    names the versions the suite was last checked with)."""
    for line in _debian_packages():
        terminalreporter.write_line(line)


def _debian_packages() -> list[str]:
    import subprocess

    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *DEBIAN_PACKAGES],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.split("\n")  # fmt: skip
    except OSError as exc:  # not a Debian machine
        return [f"debian packages: dpkg-query unavailable ({exc})"]
    seen = dict(line.split(" ", 1) for line in out if " " in line)
    return ["debian packages: " + ", ".join(f"{p} {seen.get(p, 'not installed')}" for p in DEBIAN_PACKAGES)]
