"""The layers hold, and the folders show them (README, Development → "The map"):

    dobae/                      the app: CLI root, demo, report, status, review web app
    crawler/ augment/ train/ infer/   the stages: each imports only the layers below, never another stage
    qa/                         the QA core train and infer share (prompt, pairs, scoring, retrieval, …)
    db/                         models, sessions, migrations, imports/exports, the read model
    foundation/                 settings, errors, consoles, output files, fetches, KEY=VALUE

A package imports its own modules and the layers below it, nothing above and nothing beside it.
Every import statement counts, also those inside functions (the code base imports lazily).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("foundation", "db", "qa", "crawler", "augment", "train", "infer", "dobae")
# package -> the project packages it may import besides itself
ALLOWED = {
    "foundation": (),
    "db": ("foundation",),
    "qa": ("foundation", "db"),
    "crawler": ("foundation", "db", "qa"),
    "augment": ("foundation", "db", "qa"),
    "train": ("foundation", "db", "qa"),
    "infer": ("foundation", "db", "qa"),
    "dobae": ("foundation", "db", "qa", "crawler", "augment", "train", "infer"),
}


def _modules(package: str) -> list[Path]:
    """The package's modules; `__main__.py` (`python -m STAGE`, an entry point that runs the app's
    CLI) and Alembic's migration scripts are not part of the layer."""
    return sorted(
        p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts and p.name != "__main__.py"
    )


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _offenders(package: str) -> list[str]:
    allowed = (package, *ALLOWED[package])
    bad = []
    for path in _modules(package):
        for name in sorted(_imports(path)):
            top = name.split(".")[0]
            if top in PROJECT and top not in allowed:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_every_top_level_package_has_a_layer():
    """A new top-level package must be placed in the map (and so in this test)."""
    ours = {
        p.parent.name
        for p in ROOT.glob("*/__init__.py")
        if p.parent.name not in ("tests", "benchmarks", "docs", "data")
    }
    assert ours == set(PROJECT)


@pytest.mark.parametrize("package", PROJECT)
def test_a_package_imports_only_the_layers_below_it(package):
    assert _offenders(package) == []


def test_the_old_flat_app_package_holds_only_the_app():
    """The foundation and the QA core left `dobae/`; what stays there is the app."""
    names = {p.stem for p in (ROOT / "dobae").glob("*.py")} | {
        p.name for p in (ROOT / "dobae").iterdir() if p.is_dir() and p.name != "__pycache__"
    }
    assert names == {"__init__", "cli", "demo", "report", "status", "review_app", "templates"}


def test_the_check_sees_lazy_imports(tmp_path):
    """The walker finds an import inside a function (so the tests above can fail)."""
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from infer.generate import Pipeline\n", encoding="utf-8")
    assert "infer.generate" in _imports(p)


def test_a_stage_importing_another_stage_is_caught(tmp_path, monkeypatch):
    """The rule itself can fail: a crawler module importing augment is reported."""
    pkg = tmp_path / "crawler"
    pkg.mkdir()
    (pkg / "m.py").write_text("import augment.client\nfrom foundation import errors\n", encoding="utf-8")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert _offenders("crawler") == ["crawler/m.py imports augment.client"]
