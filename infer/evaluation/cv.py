"""Grouped k-fold cross-validation of an answerer on the imported DACON rows.

- Folds are made of whole rows: a row's two questions and five answers are never split across
  folds (the answerer is fitted on the other folds' 10 pairs per row). Augmented pairs never
  enter these folds; a model trained on an export is held out from a fold only if its export
  was cut with `fold_training_rows` (a derived pair is dropped when ANY of its source groups is
  a held-out row, so a compound never straddles folds).
- Evaluation questions are test-like: a seeded share (`double_ratio`, default 0.47 = 61 of the 130
  test.csv questions, counted with `qa.splitting`) are two held-out rows' questions joined with
  " 또한, " or " 그리고 ", whose references are the two rows' answers joined pairwise (answer j of
  the first + " " + answer j of the second); the rest are single questions with their five answers.
  Each held-out row appears in exactly one evaluation question; the phrasing (질문_1/질문_2) is
  drawn at random.
- Scores: the DACON metric (`qa.scoring`) per question; the fold's mean; mean and standard
  deviation over folds; means of single and double questions; means per category (a double
  question counts for both of its rows' categories).
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from foundation.errors import DobaeError, InputError
from infer.answerer import Answerer
from qa.pairs import Pair
from qa.scoring import score_texts

DOUBLE_RATIO = 0.47
JOINERS = (" 또한, ", " 그리고 ")


@dataclass(frozen=True)
class Item:
    """One DACON row (structurally the same as `db.dacon.DaconItem`)."""

    id: str
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    category: str


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    references: tuple[str, ...]
    item_ids: tuple[str, ...]
    categories: tuple[str, ...]

    @property
    def kind(self) -> str:
        return "double" if len(self.item_ids) > 1 else "single"


def as_items(rows: Sequence[Any]) -> list[Item]:
    return [Item(str(r.id), tuple(r.questions), tuple(r.answers), r.category or "") for r in rows]


def data_sha256(items: Sequence[Item]) -> str:
    """A hash of the rows' content (order-independent), recorded with every evaluation."""
    payload = sorted([it.id, list(it.questions), list(it.answers), it.category] for it in items)
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()


def make_folds(items: Sequence[Item], k: int = 5, seed: int = 42) -> list[list[Item]]:
    """`k` folds of whole rows, seeded: the same rows and seed always give the same folds."""
    if k < 2:
        raise InputError(f"--folds {k}: need at least 2 folds")
    if len(items) < k:
        raise InputError(f"{len(items)} DACON rows cannot make {k} folds; import more rows or lower --folds")
    ids = sorted({it.id for it in items})
    if len(ids) != len(items):
        raise InputError("duplicate DACON row ids: rows must be unique to be grouped")
    random.Random(seed).shuffle(ids)
    fold_of = {rid: i % k for i, rid in enumerate(ids)}
    folds: list[list[Item]] = [[] for _ in range(k)]
    for it in sorted(items, key=lambda it: it.id):
        folds[fold_of[it.id]].append(it)
    return folds


def item_id_of_group(group_id: str) -> str:
    """The DACON row id of a DACON pair's group (`db.dacon.group_id`: "<source>:<row id>")."""
    return group_id.rsplit(":", 1)[-1]


def touches_rows(groups: Sequence[str], row_ids: set[str]) -> bool:
    """Whether a pair built from `groups` (all its source groups, e.g. both halves of a compound
    question) holds text of any of the DACON rows `row_ids`."""
    return any(item_id_of_group(g) in row_ids for g in groups)


def fold_training_rows(rows: Sequence[dict[str, Any]], held: Sequence[Item]) -> list[dict[str, Any]]:
    """The rows of a `dobae export` (dicts with `group_id` and optional `source_groups`) that may
    train a model evaluated on the held-out rows `held`: a row built from ANY held-out row's group
    (a paraphrase of it, a compound half-made of it, a seeded pair grounded on it) is left out."""
    ids = {it.id for it in held}
    return [r for r in rows if not touches_rows([r["group_id"], *(r.get("source_groups") or [])], ids)]


def train_pairs(items: Sequence[Item]) -> list[Pair]:
    """Every (question phrasing × answer) pair of the rows, grouped by row id."""
    return [
        Pair(question=q, answer=a, group_id=it.id, category=it.category)
        for it in items
        for q in it.questions
        for a in it.answers
    ]


def eval_questions(
    items: Sequence[Item], seed: int = 42, double_ratio: float = DOUBLE_RATIO
) -> list[EvalQuestion]:
    """Test-like questions from held-out rows (see the module docstring)."""
    if not 0 <= double_ratio <= 1:
        raise InputError(f"double ratio {double_ratio}: must be between 0 and 1")
    rng = random.Random(seed)
    order = sorted(items, key=lambda it: it.id)
    rng.shuffle(order)
    n_double = int(round(double_ratio * len(order) / (1 + double_ratio)))
    out: list[EvalQuestion] = []
    for i in range(n_double):
        a, b = order[2 * i], order[2 * i + 1]
        qa, qb = rng.choice(a.questions), rng.choice(b.questions)
        joiner = rng.choice(JOINERS)
        refs = tuple(f"{x} {y}" for x, y in zip(a.answers, b.answers, strict=False))
        out.append(EvalQuestion(f"{qa}{joiner}{qb}", refs, (a.id, b.id), (a.category, b.category)))
    for it in order[2 * n_double :]:
        out.append(EvalQuestion(rng.choice(it.questions), tuple(it.answers), (it.id,), (it.category,)))
    return out


@dataclass(frozen=True)
class ExtraPair:
    """An approved pair of another origin (crawl, augment, docs) offered to every fold's training
    side. `groups` are all the groups it was built from (`QAPair.groups`)."""

    pair: Pair
    groups: tuple[str, ...]
    source: str  # crawl | augment | docs | manual


def fold_train_pairs(
    train: Sequence[Item], held: Sequence[Item], extra: Sequence[ExtraPair] = ()
) -> tuple[list[Pair], int]:
    """A fold's training pairs: the other folds' rows, plus every extra pair not built from a
    held-out row (ANY of its groups). Returns the pairs and how many extra pairs were added."""
    held_ids = {it.id for it in held}
    if held_ids & {it.id for it in train}:
        raise DobaeError("a held-out row is also in the training rows")
    added = [e.pair for e in extra if not touches_rows(e.groups, held_ids)]
    return train_pairs(train) + added, len(added)


@dataclass
class CVResult:
    answerer: str
    config: dict[str, Any]
    embedder: str
    embedder_description: str
    folds: int
    seed: int
    data_sha256: str
    fold_means: list[float]
    by_kind: dict[str, float]
    by_category: dict[str, float]
    counts: dict[str, int]
    seconds: float
    examples: list[dict[str, Any]] = field(default_factory=list)
    per_question: list[float] = field(default_factory=list)  # in fold order, for paired comparisons
    extra_per_fold: list[int] = field(default_factory=list)  # extra pairs added to each fold's training

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_means))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_means, ddof=1)) if len(self.fold_means) > 1 else 0.0

    def breakdown(self) -> dict[str, Any]:
        return {
            "fold_means": self.fold_means,
            "by_kind": self.by_kind,
            "by_category": self.by_category,
            "counts": self.counts,
            "seed": self.seed,
            "embedder_description": self.embedder_description,
            "seconds": round(self.seconds, 2),
        }


def cross_validate(
    items: Sequence[Item],
    make: Callable[[], Answerer],
    embedder,
    *,
    k: int = 5,
    seed: int = 42,
    double_ratio: float = DOUBLE_RATIO,
    on_fold: Callable[[int, float], None] | None = None,
    extra: Sequence[ExtraPair] = (),
) -> CVResult:
    """Fit a fresh answerer per fold on the other folds (plus the `extra` pairs not built from a
    held-out row), answer the fold's questions, score them."""
    t0 = time.perf_counter()
    items = as_items(items)
    folds = make_folds(items, k, seed)
    fold_means: list[float] = []
    kind_scores: dict[str, list[float]] = defaultdict(list)
    cat_scores: dict[str, list[float]] = defaultdict(list)
    examples: list[dict[str, Any]] = []
    answerer: Answerer | None = None
    per_question: list[float] = []
    extra_per_fold: list[int] = []
    for f, held in enumerate(folds):
        train = [it for g, fold in enumerate(folds) if g != f for it in fold]
        answerer = make()
        fit_pairs, n_extra = fold_train_pairs(train, held, extra)
        extra_per_fold.append(n_extra)
        answerer.fit(fit_pairs)
        questions = eval_questions(held, seed=seed + f, double_ratio=double_ratio)
        answers = answerer.answer([q.question for q in questions])
        if len(answers) != len(questions):
            raise DobaeError(
                f"answerer {answerer.name!r} returned {len(answers)} answers for {len(questions)} questions"
            )
        result = score_texts(answers, [q.references for q in questions], embedder)
        fold_means.append(result.mean)
        per_question.extend(float(x) for x in result.per_question)
        for q, a, s in zip(questions, answers, result.per_question, strict=True):
            kind_scores[q.kind].append(float(s))
            for cat in dict.fromkeys(q.categories):
                cat_scores[cat].append(float(s))
            if len(examples) < 3 and f == 0:
                examples.append(
                    {"question": q.question, "answer": a, "reference": q.references[0], "score": float(s)}
                )
        if on_fold is not None:
            on_fold(f, result.mean)
    assert answerer is not None
    return CVResult(
        answerer=answerer.name,
        config=answerer.config(),
        embedder=embedder.name,
        embedder_description=getattr(embedder, "description", embedder.name),
        folds=k,
        seed=seed,
        data_sha256=data_sha256(items),
        fold_means=fold_means,
        by_kind={kind: float(np.mean(v)) for kind, v in sorted(kind_scores.items())},
        by_category={cat: float(np.mean(v)) for cat, v in sorted(cat_scores.items())},
        counts={
            **{kind: len(v) for kind, v in kind_scores.items()},
            **{f"cat:{c}": len(v) for c, v in cat_scores.items()},
        },
        seconds=time.perf_counter() - t0,
        examples=examples,
        per_question=per_question,
        extra_per_fold=extra_per_fold,
    )


def git_commit() -> str | None:
    """The checkout's HEAD commit (None outside a git checkout)."""
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def store_evaluation(result: CVResult, url: str | None = None, extra: dict[str, Any] | None = None) -> int:
    """Insert an `evaluations` row (`extra` joins its breakdown and config); returns its id."""
    from db.migrate import ensure_schema
    from db.models import Evaluation
    from db.session import session_scope

    ensure_schema(url)
    with session_scope(url) as session:
        row = Evaluation(
            answerer=result.answerer,
            config={**result.config, **({"add_origins": extra["ablation"]["sources"]} if extra else {})},
            embedder=result.embedder,
            data_sha256=result.data_sha256,
            git_commit=git_commit(),
            folds=result.folds,
            mean=result.mean,
            std=result.std,
            breakdown={**result.breakdown(), **(extra or {})},
        )
        session.add(row)
        session.flush()
        return row.id


def load_items(url: str | None = None, source: str | None = None) -> list[Item]:
    """The imported DACON rows (InputError saying how to import them when there are none)."""
    from db.dacon import load_dacon_items
    from db.migrate import ensure_schema
    from db.session import session_scope

    ensure_schema(url)
    with session_scope(url) as session:
        rows = load_dacon_items(session, source)
    if not rows:
        raise InputError(
            "no DACON rows in the database: import them first, e.g. `dobae import dacon train.csv` "
            "(or `dobae import dacon --sample` for the small shipped sample)"
        )
    return as_items(rows)
