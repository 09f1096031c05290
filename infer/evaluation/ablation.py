"""What each data source adds: grouped CV with and without the approved pairs of each origin.

`dobae evaluate --add-origin crawl --add-origin augment --add-origin docs` runs the same grouped
folds and the same test-like questions (same seed) several times:

- `base`: the DACON rows of the other folds only (what `dobae evaluate` does);
- `+ SOURCE`, for each source: base plus the approved pairs of that source;
- `+ all`, when more than one source is named: base plus all of them.

Extra pairs only ever go to a fold's training side, and never one built from a held-out row (any
of its `source_groups`; `infer.evaluation.cv.fold_train_pairs`). Sources: `crawl`, `manual` (origins),
`augment` (generated pairs not grounded on a document) and `docs` (generated pairs grounded on a
document chunk, `qa_pairs.chunk_id`). Each configuration's score is compared with the base by a
paired bootstrap over the evaluation questions (the same questions in every configuration): the
mean difference and its 95 % interval.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from foundation.errors import InputError
from infer.answerer import Answerer
from infer.evaluation.cv import CVResult, ExtraPair, Item, cross_validate
from qa.pairs import Pair

SOURCES = ("crawl", "augment", "docs", "manual")


def load_extra_pairs(sources: Sequence[str], url: str | None = None) -> list[ExtraPair]:
    """Approved, non-test pairs of each source (see the module docstring for what a source is)."""
    from sqlalchemy import select

    from db.migrate import ensure_schema
    from db.models import Origin, QAPair, Review, ReviewStatus, Split
    from db.review import holds
    from db.session import session_scope

    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise InputError(f"--add-origin {unknown[0]!r}: use one of {', '.join(SOURCES)}")
    ensure_schema(url)
    out: list[ExtraPair] = []
    with session_scope(url) as s:
        for source in dict.fromkeys(sources):
            q = (
                select(QAPair)
                .join(Review, Review.pair_id == QAPair.id)
                .where(Review.status == ReviewStatus.approved)
                .where((QAPair.split.is_(None)) | (QAPair.split != Split.test))
                .order_by(QAPair.id)
            )
            if source == "docs":
                q = q.where(QAPair.origin == Origin.augment, QAPair.chunk_id.is_not(None))
            elif source == "augment":
                q = q.where(QAPair.origin == Origin.augment, QAPair.chunk_id.is_(None))
            else:
                q = q.where(QAPair.origin == Origin(source))
            for p in s.scalars(q):
                if not p.question_text.strip() or not p.answer_text.strip():
                    continue
                if not holds(p.review, p.question_text, p.answer_text):
                    continue  # approved on another text: nobody approved this one
                pair = Pair(p.question_text, p.answer_text, p.group_id, p.category)
                out.append(ExtraPair(pair, tuple(p.groups), source))
    return out


def paired_bootstrap(
    with_scores: Sequence[float], without: Sequence[float], n: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of (with − without) over paired questions and its 95 % percentile interval."""
    a, b = np.asarray(with_scores, dtype=float), np.asarray(without, dtype=float)
    if a.shape != b.shape or not len(a):
        raise ValueError("paired scores must have the same, non-zero length")
    diff = a - b
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(n, len(diff)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(lo), float(hi)


@dataclass
class AblationRow:
    name: str  # "base", "+ crawl", "+ all"
    sources: tuple[str, ...]
    result: CVResult
    extra_pairs: int  # approved pairs of these sources
    delta: float = 0.0
    ci: tuple[float, float] = (0.0, 0.0)


@dataclass
class Ablation:
    rows: list[AblationRow]
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


def run_ablation(
    items: Sequence[Item],
    make: Callable[[], Answerer],
    embedder,
    extra: Sequence[ExtraPair],
    sources: Sequence[str],
    *,
    k: int = 5,
    seed: int = 42,
    double_ratio: float = 0.47,
    bootstrap: int = 2000,
    on_config: Callable[[str], None] | None = None,
) -> Ablation:
    """Base, base + each source, base + all (when several): same folds and questions each time."""
    sources = list(dict.fromkeys(sources))
    configs: list[tuple[str, tuple[str, ...]]] = [("base", ())]
    configs += [(f"+ {s}", (s,)) for s in sources]
    if len(sources) > 1:
        configs.append(("+ all", tuple(sources)))
    rows: list[AblationRow] = []
    for name, srcs in configs:
        chosen = [e for e in extra if e.source in srcs]
        result = cross_validate(
            items, make, embedder, k=k, seed=seed, double_ratio=double_ratio, extra=chosen
        )
        rows.append(AblationRow(name, srcs, result, len(chosen)))
        if on_config is not None:
            on_config(name)
    base = rows[0].result.per_question
    for row in rows[1:]:
        d, lo, hi = paired_bootstrap(row.result.per_question, base, bootstrap, seed)
        row.delta, row.ci = d, (lo, hi)
    return Ablation(rows)


def breakdown(row: AblationRow, ablation: Ablation) -> dict[str, Any]:
    """What an ablation row adds to its evaluation's breakdown (the report plots it)."""
    return {
        "ablation": {
            "run": ablation.run,
            "name": row.name,
            "sources": list(row.sources),
            "extra_pairs": row.extra_pairs,
            "extra_per_fold": row.result.extra_per_fold,
            "delta": row.delta,
            "ci95": list(row.ci),
        }
    }
