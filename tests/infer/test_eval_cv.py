"""Grouped k-fold: rows never straddle folds, seeded and reproducible, test-like questions."""

from __future__ import annotations

import pytest

from foundation.errors import InputError
from infer.evaluation.cv import data_sha256, eval_questions, make_folds, train_pairs


def test_folds_partition_rows_and_never_straddle(items):
    folds = make_folds(items, k=3, seed=7)
    ids = [it.id for fold in folds for it in fold]
    assert sorted(ids) == sorted(it.id for it in items)  # every row exactly once
    assert [len(f) for f in folds] in ([4, 3, 3], [3, 4, 3], [3, 3, 4])
    for f, held in enumerate(folds):
        train = [it for g, fold in enumerate(folds) if g != f for it in fold]
        train_groups = {p.group_id for p in train_pairs(train)}
        held_ids = {it.id for it in held}
        assert not train_groups & held_ids
        held_texts = {q for it in held for q in it.questions} | {a for it in held for a in it.answers}
        assert not held_texts & {t for p in train_pairs(train) for t in (p.question, p.answer)}


def test_folds_are_reproducible_and_seeded(items):
    a = [[it.id for it in f] for f in make_folds(items, 5, seed=1)]
    b = [[it.id for it in f] for f in make_folds(list(reversed(items)), 5, seed=1)]
    assert a == b  # same rows and seed, any input order: same folds
    assert any([[it.id for it in f] for f in make_folds(items, 5, seed=s)] != a for s in range(2, 8))


def test_too_few_rows_for_folds(items):
    with pytest.raises(InputError, match="cannot make"):
        make_folds(items[:2], 5)


def test_eval_questions_are_test_like(items):
    qs = eval_questions(items, seed=3, double_ratio=0.5)
    used = [i for q in qs for i in q.item_ids]
    assert sorted(used) == sorted(it.id for it in items)  # each held-out row once
    by_id = {it.id: it for it in items}
    doubles = [q for q in qs if q.kind == "double"]
    singles = [q for q in qs if q.kind == "single"]
    assert len(doubles) / len(qs) == pytest.approx(0.5, abs=0.15)
    for q in doubles:
        a, b = (by_id[i] for i in q.item_ids)
        assert any(
            f"{qa} 또한, {qb}" == q.question or f"{qa} 그리고 {qb}" == q.question
            for qa in a.questions
            for qb in b.questions
        )
        assert q.references == tuple(f"{x} {y}" for x, y in zip(a.answers, b.answers, strict=True))
    for q in singles:
        it = by_id[q.item_ids[0]]
        assert q.question in it.questions and q.references == it.answers
    assert eval_questions(items, seed=3, double_ratio=0.5) == qs
    assert all(q.kind == "single" for q in eval_questions(items, seed=3, double_ratio=0.0))


def test_data_hash_depends_on_content_not_order(items):
    from dataclasses import replace

    assert data_sha256(items) == data_sha256(list(reversed(items)))
    changed = [replace(items[0], category="기타"), *items[1:]]
    assert data_sha256(changed) != data_sha256(items)
