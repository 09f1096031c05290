"""The command line around the database: an unusable database is one line naming its URL (password
masked) and what to do; read-only commands never create a database; `--out` never overwrites a
file without `--force`; `dobae db downgrade` asks for `--yes`."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from db.models import Export, QAPair
from db.session import dispose_engines, session_scope
from foundation.settings import reset_settings

READ_ONLY = [
    ["status"],
    ["report", "--out", "r.html", "--embedder", "none"],
    ["export", "--out", "x.jsonl"],
    ["review", "status"],
    ["review", "import", "x.csv"],
    ["db", "current"],
    ["crawl", "runs"],
    ["augment", "status"],
    ["augment", "batch-write", "keywords", "--out", "b.jsonl"],
    ["evaluate", "--answerer", "constant"],
    ["submit", "--questions", "q.csv", "--out", "sub"],
    # issue 21 item 12: these created a database at the mistyped path
    ["docs", "list"],
    ["augment", "curate", "--dry-run"],
    ["review", "approve", "--origin", "crawl", "--no-flags", "--dry-run"],
]


@pytest.fixture
def use_url(monkeypatch, tmp_path):
    """Point the CLI at `url` (settings and engines forgotten before and after)."""
    monkeypatch.chdir(tmp_path)

    def use(url: str) -> None:
        monkeypatch.setenv("DOBAE_DATABASE_URL", url)
        dispose_engines()
        reset_settings()

    yield use
    dispose_engines()
    reset_settings()


def _one_line(code: int, err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_never_create_a_database(command, cli, use_url, tmp_path):
    use_url(f"sqlite:///{tmp_path}/dat/dobea.db")  # a typo for data/dobae.db
    before = sorted(tmp_path.rglob("*"))
    code, _out, err = cli(*command)
    line = _one_line(code, err)
    assert f"no database at {tmp_path}/dat/dobea.db" in line and "DOBAE_DATABASE_URL" in line
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    "command", [["status"], ["import", "dacon", "--sample"], ["db", "upgrade"]], ids=" ".join
)
def test_unreachable_postgres_is_one_line_with_the_password_masked(command, cli, use_url):
    use_url("postgresql+psycopg://kim:s3cret@127.0.0.1:1/dobae")  # port 1: nothing listens
    line = _one_line(*cli(*command)[::2])
    assert "postgresql+psycopg://kim:***@127.0.0.1:1/dobae" in line and "s3cret" not in line
    assert "Connection refused" in line and "start PostgreSQL" in line


@pytest.mark.parametrize("url", ["notaurl", "postgres://kim:s3cret@localhost/dobae", "sqlite//x.db"])
@pytest.mark.parametrize("command", [["status"], ["import", "dacon", "--sample"]], ids=" ".join)
def test_a_url_that_does_not_parse_is_one_line(url, command, cli, use_url, tmp_path):
    use_url(url)
    line = _one_line(*cli(*command)[::2])
    assert "is not usable" in line and "DOBAE_DATABASE_URL" in line and "s3cret" not in line
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "command", [["status"], ["import", "dacon", "--sample"], ["db", "upgrade"]], ids=" ".join
)
def test_a_file_that_is_not_an_sqlite_database_is_one_line(command, cli, use_url, tmp_path):
    junk = tmp_path / "dobae.db"
    data = os.urandom(4096)
    junk.write_bytes(data)
    use_url(f"sqlite:///{junk}")
    line = _one_line(*cli(*command)[::2])
    assert f"sqlite:///{junk}" in line and "not an SQLite database" in line
    assert junk.read_bytes() == data


@pytest.mark.postgres
def test_wrong_password_and_missing_database_on_postgres(cli, use_url):
    pg_url = os.environ.get("DOBAE_TEST_DATABASE_URL", "")
    if not pg_url:  # as everywhere in the suite: a skip locally, an error in CI
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but DOBAE_TEST_DATABASE_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip("DOBAE_TEST_DATABASE_URL is not set")
    from sqlalchemy.engine import make_url

    real = make_url(pg_url)
    use_url(real.set(password="wrong-pw").render_as_string(hide_password=False))
    line = _one_line(*cli("status")[::2])
    assert "password authentication failed" in line and "wrong-pw" not in line and ":***@" in line
    use_url(real.set(database="no_such_db").render_as_string(hide_password=False))
    line = _one_line(*cli("status")[::2])
    assert 'database "no_such_db" does not exist' in line and "createdb" in line


# --------------------------------------------------------------------------- --out


@pytest.fixture
def imported(db_url, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("import", "dacon", "--sample")[0] == 0
    return db_url


def _exports(url) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(Export))


def test_export_refuses_an_existing_file_unless_force(imported, cli, tmp_path):
    mine = tmp_path / "mytrain.csv"
    mine.write_text("my own work\n", encoding="utf-8")
    line = _one_line(*cli("export", "--out", str(mine), "--category", "nomatch")[::2])
    assert f"{mine} already exists; pass --force" in line
    assert mine.read_text(encoding="utf-8") == "my own work\n" and _exports(imported) == 0
    code, _out, err = cli("export", "--out", str(mine), "--force")
    assert code == 0, err
    with session_scope(imported) as s:
        pairs = s.scalar(select(func.count()).select_from(QAPair))
    assert len(mine.read_text(encoding="utf-8").splitlines()) == pairs + 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mytrain")]  # no temporary file left


def test_export_to_a_folder_is_one_line(imported, cli, tmp_path):
    (tmp_path / "out").mkdir()
    line = _one_line(*cli("export", "--out", str(tmp_path / "out"), "--format", "csv")[::2])
    assert "is a folder" in line and not any((tmp_path / "out").iterdir())


def test_report_refuses_an_existing_file_and_a_folder(imported, cli, tmp_path):
    mine = tmp_path / "report.html"
    mine.write_text("keep me", encoding="utf-8")
    line = _one_line(*cli("report", "--out", str(mine), "--embedder", "none")[::2])
    assert "already exists; pass --force" in line and mine.read_text(encoding="utf-8") == "keep me"
    folder = tmp_path / "reports"
    folder.mkdir()
    line = _one_line(*cli("report", "--out", str(folder), "--embedder", "none")[::2])
    assert f"--out {folder}: is a folder" in line
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*tmp")) and not any(folder.iterdir())
    code, _out, err = cli("report", "--out", str(mine), "--embedder", "none", "--force")
    assert code == 0, err
    assert mine.read_text(encoding="utf-8").startswith("<!") and not list(tmp_path.glob("*.tmp"))


def test_batch_write_refuses_an_existing_file(imported, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DOBAE_LLM__MODEL", "m")
    reset_settings()
    mine = tmp_path / "batch.jsonl"
    mine.write_text("{}\n", encoding="utf-8")
    line = _one_line(*cli("augment", "batch-write", "keywords", "--out", str(mine))[::2])
    assert "already exists; pass --force" in line and mine.read_text(encoding="utf-8") == "{}\n"


def test_downgrade_asks_for_yes(imported, cli):
    from db.migrate import current_revision, head_revision

    line = _one_line(*cli("db", "downgrade", "base")[::2])
    assert "pass --yes" in line and current_revision(imported) == head_revision()
    code, _out, err = cli("db", "downgrade", "base", "--yes")
    assert code == 0, err
    assert current_revision(imported) is None
    assert cli("db", "upgrade")[0] == 0


def test_an_out_path_under_a_file_is_one_line(imported, cli, tmp_path):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    line = _one_line(*cli("export", "--out", str(tmp_path / "notes.txt" / "pairs.csv"))[::2])
    assert str(tmp_path / "notes.txt") in line and "check the path" in line
