"""A derived pair built from several groups (a compound question) belongs to ALL of them: it is
stored with its source groups, exported with them, and never trains when any of them is held out
(the trainer's validation split, cross-validation folds, the evaluation table's fold export)."""

from __future__ import annotations

import json

import pytest
from aug_helpers import insert_pairs
from sqlalchemy import select

from augment.operations import Selection
from augment.runner import run_operation
from db.export import export_pairs
from db.models import Generation, Origin, QAPair
from db.review import set_review
from db.session import session_scope
from infer.evaluation.cv import Item, fold_training_rows
from qa.pairs import read_export
from train.data import split_by_group

# six DACON-like rows, two categories, so compounds join many different pairs of groups
ROWS = [
    (
        f"dacon:TRAIN_00{i}",
        "마감하자" if i % 2 else "시공",
        f"{topic} 원인은 무엇인가요?",
        f"{topic}의 원인은 {cause} 때문입니다.",
    )
    for i, (topic, cause) in enumerate(
        [
            ("도배지 곰팡이", "결로와 환기 부족"),
            ("벽지 들뜸", "초배 부실과 습기"),
            ("석고보드 균열", "이음새 처리 불량"),
            ("걸레받이 틈", "실리콘 시공 누락"),
            ("타일 들뜸", "접착제 양 부족"),
            ("마루 변색", "직사광선과 습기"),
        ]
    )
]


def _export(db_url, tmp_path):
    """Every pair approved (as a reviewer would), exported for training."""
    with session_scope(db_url) as s:
        for pid in s.scalars(select(QAPair.id)):
            set_review(s, pid, "approved", actor="test")
    out = tmp_path / "approved.jsonl"
    export_pairs(out, url=db_url)
    return out


def test_compound_pairs_store_export_and_split_with_both_groups(db_url, tmp_path):
    insert_pairs(db_url, ROWS)
    run_operation("compound", Selection())
    with session_scope(db_url) as s:
        compounds = list(s.scalars(select(QAPair).where(QAPair.origin == Origin.augment)))
        assert len(compounds) == len(ROWS)
        for p in compounds:
            partner = s.get(QAPair, s.get(Generation, p.generation_id).params["partner_id"])
            assert p.source_groups == [p.group_id, partner.group_id] and p.group_id != partner.group_id

    path = _export(db_url, tmp_path)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    exported = {r["id"]: r["source_groups"] for r in rows if r["origin"] == "augment"}
    assert exported == {p.id: p.source_groups for p in compounds}
    assert all(r["source_groups"] == [r["group_id"]] for r in rows if r["origin"] == "dacon")

    pairs = read_export(path).pairs
    compound_ids = {str(p.id) for p in compounds}
    straddled = 0
    for seed in range(40):
        train, val = split_by_group(pairs, 0.34, seed=seed)
        val_groups = {p.group_id for p in val}
        assert val_groups and not val_groups & {g for p in train for g in p.groups}
        for p in pairs:
            if str(p.id) in compound_ids and val_groups & set(p.groups):
                assert p not in train  # held out by either of its two groups
                straddled += not val_groups.issuperset(p.groups)
        assert all(val_groups.issuperset(p.groups) for p in val)
    assert straddled > 0  # the case that leaked before did occur and was caught

    # the evaluation table's fold export: a compound is dropped when EITHER row is held out
    for held_id in {r[0].split(":")[1] for r in ROWS}:
        held = [Item(held_id, ("q",), ("a",), "")]
        kept = fold_training_rows(rows, held)
        for r in rows:
            touches = any(g.endswith(":" + held_id) for g in r["source_groups"])
            assert (r in kept) != touches


def test_compound_partners_share_no_group_with_an_augmented_parent(db_url):
    """A compound of augmented pairs (`--source augment`) joins pairs with no group in common, and
    carries all groups of both (here: four)."""
    insert_pairs(db_url, ROWS)
    run_operation("compound", Selection())
    run_operation("compound", Selection(source="augment"))
    with session_scope(db_url) as s:
        second = [
            p for p in s.scalars(select(QAPair).where(QAPair.origin == Origin.augment)) if len(p.groups) > 2
        ]
        assert second
        for p in second:
            gen = s.get(Generation, p.generation_id)
            a, b = s.get(QAPair, p.parent_id), s.get(QAPair, gen.params["partner_id"])
            assert set(a.groups).isdisjoint(b.groups)
            assert p.groups == list(dict.fromkeys(a.groups + b.groups))


@pytest.mark.parametrize("bad", ['"dacon:1"', "[1, 2]", '[""]'])
def test_bad_source_groups_name_the_line(tmp_path, bad):
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"id": 1, "group_id": "g", "question": "질문?", "answer": "답변"}\n'
        f'{{"id": 2, "group_id": "g", "question": "질문?", "answer": "답변", "source_groups": {bad}}}\n',
        encoding="utf-8",
    )
    with pytest.raises(Exception, match=r"e.jsonl, line 2: field 'source_groups'"):
        read_export(path)
