"""Text that did not come from the code (titles, reasons, reviewer names, categories, file names)
is printed as text, never read as rich console markup: `[/x]` used to end `dobae status`,
`dobae docs list`, `dobae evaluate` and `dobae crawl probe` in a traceback, and `dobae export --out
'approved[v2].jsonl'` printed `approved.jsonl`.

The source check walks every `console`/`out` call and Table row in the code, so a new print is
covered without editing this file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dobae", "db", "crawler", "augment", "infer", "train")
HOSTILE = "[/x] [bold]굵게[/bold] [red] :smile: \\[/y] ["
_TAG = re.compile(r"\[/?(bold|dim|italic|red|green|yellow|blue|cyan|magenta|white|link|underline)\b[^\]]*\]")


def _calls():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    yield path.relative_to(ROOT), node


def _is_console(call: ast.Call) -> bool:
    f = call.func
    return (
        f.attr in ("print", "rule", "log")
        and isinstance(f.value, ast.Name)
        and f.value.id in ("console", "out", "con")
    )


def _markup_on(call: ast.Call) -> bool:
    return any(
        k.arg == "markup" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )


def _strings(call: ast.Call):
    for arg in [*call.args, *(k.value for k in call.keywords if k.arg in ("title", "description"))]:
        for node in ast.walk(arg):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield node.value


def _unescaped(call: ast.Call) -> list[str]:
    """Interpolations of a markup=True line that are not wrapped in esc() (numbers with a format
    spec and len() are fine)."""
    bad = []
    for arg in call.args:
        for node in ast.walk(arg):
            if isinstance(node, ast.FormattedValue) and node.format_spec is None:
                v = node.value
                if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in ("esc", "len"):
                    continue
                bad.append(ast.unparse(v))
    return bad


def test_every_styled_line_escapes_its_values_and_no_plain_line_holds_tags():
    problems = []
    for path, call in _calls():
        where = f"{path}:{call.lineno}"
        if _is_console(call):
            if _markup_on(call):
                problems += [f"{where}: markup=True but {{{v}}} is not esc()" for v in _unescaped(call)]
                if any(isinstance(a, ast.Name) for a in call.args):
                    problems.append(f"{where}: markup=True on a variable: build the line with esc()")
            else:
                problems += [
                    f"{where}: {s!r} has a tag but no markup=True" for s in _strings(call) if _TAG.search(s)
                ]
        elif call.func.attr in ("add_row", "add_column", "add_task"):
            problems += [
                f"{where}: {s!r}: cells are plain text, use Text(…, style=…)"
                for s in _strings(call)
                if _TAG.search(s)
            ]
    assert not problems, "\n".join(problems)


def test_the_consoles_read_no_markup_and_no_emoji():
    from rich.table import Table

    from foundation.console import console, esc, out, progress

    for con in (console, out):
        with con.capture() as cap:
            con.print(HOSTILE)
            t = Table(HOSTILE)
            t.add_row(HOSTILE)
            con.print(t)
            con.rule(HOSTILE)
            con.print(f"[bold]{esc(HOSTILE)}[/bold]", markup=True)
        assert cap.get().count(HOSTILE) == 5
    with progress() as bar:
        bar.add_task(HOSTILE, total=1)  # a description with `[/x]` used to raise MarkupError


def test_status_shows_hostile_names_reasons_and_categories(filled_db, cli, monkeypatch):
    import foundation.console

    monkeypatch.setattr(foundation.console.out, "width", 400)  # no folding inside the names
    from db.models import CrawlRun, Origin, QAPair, Review, ReviewStatus, RunStatus, TrainingRun
    from db.session import session_scope

    with session_scope(filled_db) as s:
        pair = QAPair(key="augment:hostile:1", question_text=f"질문 {HOSTILE}", answer_text=f"답변 {HOSTILE}",
                      category=HOSTILE[:100], origin=Origin.augment, group_id="dacon:TRAIN_001")  # fmt: skip
        s.add(pair)
        s.flush()
        s.add(Review(pair_id=pair.id, status=ReviewStatus.needs_review, reasons=[HOSTILE], reviewer=HOSTILE))
        s.add(CrawlRun(spider=HOSTILE[:50], status=RunStatus.failed, error=HOSTILE, stats={HOSTILE: 1}))
        s.add(TrainingRun(name=HOSTILE, base_model=HOSTILE, output_dir="/x", status=RunStatus.finished))
    for args in (("status",), ("review", "status"), ("crawl", "runs"), ("augment", "status")):
        code, out, err = cli(*args)
        assert code == 0, (args, err)
        assert "Traceback" not in err
    code, out, err = cli("status")
    assert "[/x]" in out and "[bold]굵게[/bold]" in out and ":smile:" in out


def test_export_records_and_prints_the_exact_file_name(filled_db, cli, tmp_path):
    from sqlalchemy import select

    from db.models import Export
    from db.session import session_scope

    target = tmp_path / "approved[v2] [/x].jsonl"
    code, out, err = cli("export", "--status", "all", "--out", str(target))
    assert code == 0, err
    assert target.is_file() and not (tmp_path / "approved.jsonl").exists()
    [line] = out.strip().splitlines()  # the machine-readable line
    digest, path = line.split("  ", 1)
    assert path == str(target) and digest.startswith("sha256 ")
    assert str(target) in err.replace("\n", "")
    with session_scope(filled_db) as s:
        assert s.scalars(select(Export.path)).all() == [str(target)]


def test_docs_list_and_add_show_a_hostile_file_name_and_title(db_url, cli, tmp_path, monkeypatch):
    import foundation.console

    monkeypatch.setattr(foundation.console.out, "width", 400)  # no folding inside the names
    doc = tmp_path / "[bold]안내 [italic].md"  # a file name cannot hold `/`
    doc.write_text(
        f"# 벽지 {HOSTILE}\n\n도배지 들뜸은 풀칠이 부족할 때 생깁니다. 곰팡이는 결로가 원인입니다.", "utf-8"
    )
    code, out, err = cli("docs", "add", str(doc))
    assert code == 0, err
    assert f"{doc}" in err.replace("\n", "")
    code, out, err = cli("docs", "list")
    assert code == 0, err
    assert "[/x]" in out and "[bold]굵게[/bold]" in out


@pytest.mark.parametrize("message", [HOSTILE, "file approved[v2].jsonl: [/red] broke"])
def test_an_error_message_is_printed_as_it_is(message, capsys):
    from dobae.cli import _fail

    with pytest.raises(SystemExit):
        _fail(message)
    assert capsys.readouterr().err.strip() == f"error: {message}"
