"""`dobae demo`'s cheap steps (import, export) are idempotent; a missing stage fails loudly."""

from __future__ import annotations

import json

from sqlalchemy import func, select


def _counts(url):
    from db.models import Export, QAPair, Question
    from db.session import session_scope

    with session_scope(url) as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (QAPair, Question, Export))


def test_import_and_export_twice_adds_nothing(db_url, dacon_files):
    from dobae.demo import run_demo
    from dobae.settings import get_settings

    settings = get_settings()
    first = run_demo(*dacon_files, settings=settings, only=["import", "export"])
    assert [(r.name, r.status) for r in first] == [("import", "done"), ("export", "done")]
    after_first = _counts(db_url)
    assert after_first == (30, 2, 1)
    exported = settings.data_dir / "demo" / "approved.jsonl"
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 30 and json.loads(lines[0])["question"]

    second = run_demo(*dacon_files, settings=settings, only=["import", "export"])
    assert [(r.name, r.status) for r in second] == [("import", "skipped"), ("export", "skipped")]
    assert "already" in second[0].detail and "already exported" in second[1].detail
    assert _counts(db_url) == after_first  # no duplicated pairs, questions or export records


def test_missing_stage_fails_its_step_and_blocks_dependants(db_url, dacon_files, monkeypatch):
    import sys

    from dobae.demo import run_demo
    from dobae.settings import get_settings

    monkeypatch.setitem(sys.modules, "db.export", None)  # as if the export stage had not landed
    res = {
        r.name: r for r in run_demo(*dacon_files, settings=get_settings(), only=["import", "export", "train"])
    }
    assert res["import"].status == "done"
    assert (
        res["export"].status == "failed"
        and "stage foundation (db/export) not available" in res["export"].detail
    )
    assert res["train"].status == "blocked"
