"""Every SQL recipe in docs/database.md runs on its database and finds the rows it is about."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from db.dacon import import_dacon
from db.export import export_pairs
from db.models import Generation, Origin, QAPair
from db.review import set_review
from db.session import get_engine, session_scope

DOC = Path(__file__).resolve().parents[2] / "docs" / "database.md"
RECIPES = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_doc_has_recipes():
    assert len(RECIPES) >= 8


@pytest.mark.parametrize("sql", RECIPES, ids=[r.splitlines()[0][3:40] for r in RECIPES])
def test_recipe(sql, db_url, train_csv, tmp_path):
    dialect = get_engine(db_url).dialect.name
    only = re.search(r"\((SQLite|PostgreSQL)\)", sql.splitlines()[0])
    other_dialect = bool(only) and (only.group(1) == "SQLite") != (dialect == "sqlite")
    import_dacon(train_csv, url=db_url)
    with session_scope(db_url) as s:
        ids = s.scalars(select(QAPair.id).order_by(QAPair.id)).all()
        gen = Generation(operation="paraphrase-questions", model="tiny")
        s.add(gen)
        s.flush()
        child = QAPair(
            key="aug:1",
            question_text="벽지가 자꾸 뜨는 이유가 뭔가요?",
            answer_text="풀칠 부족입니다.",
            origin=Origin.augment,
            group_id="dacon:TRAIN_000",
            parent_id=ids[0],
            generation_id=gen.id,
        )
        s.add(child)
        s.flush()
        set_review(s, child.id, "needs_review", ["near_duplicate"], actor="machine:augment")
        set_review(s, ids[0], "rejected", ["near_duplicate", "too_short"], actor="kim")
    export_pairs(tmp_path / "x.jsonl", url=db_url)
    if other_dialect:  # the label is right: the other database's JSON functions do not exist here
        with pytest.raises(DBAPIError), session_scope(db_url) as s:
            s.execute(text(sql))
        return
    with session_scope(db_url) as s:
        rows = s.execute(text(sql)).all()
    assert rows, sql
