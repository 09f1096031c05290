"""The source ablation: extra pairs reach only the training side, never a held-out row's group
(checked over many seeded splits), the paired bootstrap, and the whole command on a database."""

from __future__ import annotations

import numpy as np
import pytest

from infer.evaluation.ablation import paired_bootstrap, run_ablation
from infer.evaluation.cv import ExtraPair, cross_validate, fold_train_pairs, make_folds
from qa.pairs import Pair


class Recorder:
    """A real answerer (nearest training question by character overlap) that records what it saw."""

    name = "recorder"
    fits: list[list[Pair]] = []
    asked: list[list[str]] = []

    def fit(self, pairs):
        self.pairs = list(pairs)
        Recorder.fits.append(self.pairs)

    def answer(self, questions):
        Recorder.asked.append(list(questions))

        def best(q):
            return max(self.pairs, key=lambda p: len(set(p.question) & set(q))).answer

        return [best(q) for q in questions]

    def config(self):
        return {}


def _extra(items):
    """Pairs derived from each row (a paraphrase), compounds spanning two rows, and unrelated ones."""
    out = []
    for i, it in enumerate(items):
        g = f"dacon:{it.id}"
        out.append(ExtraPair(Pair(it.questions[0] + " (바꿔 씀)", it.answers[0], g), (g,), "augment"))
        nxt = items[(i + 1) % len(items)]
        both = (g, f"dacon:{nxt.id}")
        out.append(
            ExtraPair(Pair(f"{it.questions[0]} 또한, {nxt.questions[0]}", "둘 다", g), both, "augment")
        )
    out.append(ExtraPair(Pair("벽지가 울어요", "초배를 다시 하세요", "crawl:s:q1"), ("crawl:s:q1",), "crawl"))
    out.append(ExtraPair(Pair("결로 원인?", "단열 부족입니다", "doc:ab:0"), ("doc:ab:0",), "docs"))
    return out


def test_extra_pairs_never_touch_a_held_out_row_over_many_splits(items):
    extra = _extra(items)
    for seed in range(60):
        for k in (2, 3, 5):
            folds = make_folds(items, k, seed)
            for f, held in enumerate(folds):
                train = [it for g, fold in enumerate(folds) if g != f for it in fold]
                pairs, n = fold_train_pairs(train, held, extra)
                held_ids = {it.id for it in held}
                held_text = {q for it in held for q in it.questions}
                for p in pairs:
                    assert not any(q in p.question for q in held_text), (seed, k, f, p)
                assert n == sum(1 for e in extra if not any(g.split(":")[-1] in held_ids for g in e.groups))
                assert n >= 2  # the crawl and docs pairs always join


def test_cross_validate_fits_extra_only_on_the_training_side(items, embedder):
    extra = _extra(items)
    for seed in range(8):
        Recorder.fits.clear()
        Recorder.asked.clear()
        res = cross_validate(items, Recorder, embedder, k=3, seed=seed, extra=extra)
        folds = make_folds(items, 3, seed)
        assert len(res.per_question) == sum(len(a) for a in Recorder.asked)
        for held, fitted, asked in zip(folds, Recorder.fits, Recorder.asked, strict=True):
            held_q = {q for it in held for q in it.questions}
            assert not any(q in p.question for p in fitted for q in held_q)
            assert all(any(h in q for h in held_q) for q in asked)  # questions come from held rows only
            assert not any(q in held_q for q in [p.question for p in fitted])


def test_paired_bootstrap():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.3, 0.6, 200)
    better = base + 0.05 + rng.normal(0, 0.01, 200)
    d, lo, hi = paired_bootstrap(better, base)
    assert 0.045 < d < 0.055 and lo < d < hi and lo > 0
    d, lo, hi = paired_bootstrap(base, base)
    assert d == lo == hi == 0
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])


def test_run_ablation_configs(items, embedder):
    extra = _extra(items)
    ab = run_ablation(items, Recorder, embedder, extra, ["crawl", "augment"], k=3, seed=3, bootstrap=200)
    assert [r.name for r in ab.rows] == ["base", "+ crawl", "+ augment", "+ all"]
    assert [r.extra_pairs for r in ab.rows] == [0, 1, 2 * len(items), 2 * len(items) + 1]
    n = len(ab.rows[0].result.per_question)
    assert all(len(r.result.per_question) == n for r in ab.rows)  # the same questions each time
    assert ab.rows[0].result.extra_per_fold == [0, 0, 0]
    for r in ab.rows[1:]:
        assert r.ci[0] <= r.delta <= r.ci[1]


def test_evaluate_add_origin_on_a_database(db_url, cli, train_csv, monkeypatch):
    from db.models import Origin, QAPair, ReviewStatus
    from db.review import add_initial_reviews
    from db.session import session_scope

    monkeypatch.setenv("DOBAE_EMBEDDER", "muse3")
    code, _, err = cli("import", "dacon", str(train_csv))
    assert code == 0, err
    with session_scope(db_url) as s:
        p = QAPair(
            key="crawl:x:1", question_text="벽지가 울어요 어떻게 하나요", answer_text="초배를 다시 하면 됩니다",
            origin=Origin.crawl, group_id="crawl:x:q1",
        )  # fmt: skip
        s.add(p)
        s.flush()
        add_initial_reviews(s, [p.id], ReviewStatus.approved, actor="test")
    code, out, err = cli("evaluate", "--add-origin", "crawl", "--folds", "2", "--answerer", "retrieval")
    assert code == 0, err
    assert "base" in out and "+ crawl" in out and "95 % interval" in out
    code, _, err = cli("evaluate", "--add-origin", "web", "--folds", "2")
    assert code == 1 and "--add-origin 'web'" in err
