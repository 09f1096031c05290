"""The layers hold: foundation (dobae.settings/errors/console) and the shared QA core (dobae.qa)
below the stages; stages import the foundation, dobae.qa and db, never the app (CLI root, demo,
report, status) and never each other where the design says so (train ↔ infer, augment → infer).

Every import statement counts, also those inside functions (the code base imports lazily).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ("dobae.cli", "dobae.demo", "dobae.report", "dobae.status", "dobae.review_app")
STAGES = ("crawler", "db", "augment", "train", "infer")


def _modules(package: str) -> list[Path]:
    """The package's modules; `__main__.py` (`python -m STAGE`, an entry point that runs the app's
    CLI) and Alembic's migration scripts are not part of the layer."""
    return sorted(
        p
        for p in (ROOT / package.replace(".", "/")).rglob("*.py")
        if "migrations" not in p.parts and p.name != "__main__.py"
    )


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in _modules(package):
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


@pytest.mark.parametrize("stage", STAGES)
def test_stages_never_import_the_app(stage):
    assert _offenders(stage, APP) == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("train", ("infer",)),
        ("infer", ("train",)),
        ("augment", ("infer", "train")),
        ("db", ("crawler", "augment", "train", "infer")),
        ("dobae.qa", ("crawler", "augment", "train", "infer", *APP)),
    ],
)
def test_shared_core_keeps_train_and_infer_apart(package, forbidden):
    assert _offenders(package, forbidden) == []


def test_the_check_sees_lazy_imports(tmp_path):
    """The walker finds an import inside a function (so the tests above can fail)."""
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from infer.generate import Pipeline\n", encoding="utf-8")
    assert "infer.generate" in _imports(p)
