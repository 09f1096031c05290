"""`--answerer auto`: measure the available answerers on the imported data and answer with the best.

- Candidates: `constant`, `retrieval`, `compose` with their default options, and `llm` when a
  training run is given.
- Each extractive candidate is scored by grouped k-fold CV (`infer.evaluation.cv`) on the imported DACON rows.
  A result is cached in the `evaluations` table and reused when the answerer, its config, the
  embedder, the data sha256, the number of folds and the seed all match.
- A LoRA run is scored by a stored CV of the same run and options on the same data when there is
  one, else by the held-out validation metric of its run card. It is chosen only when that score
  beats every other answerer; named explicitly (`--answerer llm`) it is used anyway, with a
  warning that gives both numbers when it measures below the best other answerer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from foundation.errors import ConfigError
from infer.answerer import make_answerer
from infer.evaluation.cv import Item, cross_validate, data_sha256, store_evaluation

EXTRACTIVE = ("constant", "retrieval", "compose")
GENERATIVE = ("llm",)


@dataclass
class Measured:
    name: str
    options: dict[str, Any]
    mean: float | None
    how: str  # "5-fold CV (evaluation #3)", "run card validation metric", "not measured"
    cached: bool = False

    def label(self) -> str:
        score = "—" if self.mean is None else f"{self.mean:.4f}"
        return f"{self.name} {score} ({self.how})"


@dataclass
class Choice:
    name: str
    options: dict[str, Any]
    score: float | None
    how: str
    measured: list[Measured] = field(default_factory=list)
    warning: str | None = None

    def reason(self) -> str:
        score = "unmeasured" if self.score is None else f"{self.score:.4f}"
        return f"{self.name}: {score} by {self.how}"

    def table(self) -> str:
        return "; ".join(m.label() for m in self.measured)


def cv_folds(n_items: int, folds: int = 5) -> int:
    """Folds for `n_items` rows: `folds`, fewer for small data (each fold needs 2 rows), at least 2."""
    return max(2, min(folds, n_items // 2))


def _stored(name: str, config: dict[str, Any], embedder: str, sha: str, folds: int, seed: int, url):
    from sqlalchemy import select

    from db.migrate import ensure_schema
    from db.models import Evaluation
    from db.session import session_scope

    ensure_schema(url)
    with session_scope(url) as s:
        rows = s.scalars(
            select(Evaluation)
            .where(
                Evaluation.answerer == name,
                Evaluation.embedder == embedder,
                Evaluation.data_sha256 == sha,
                Evaluation.folds == folds,
            )
            .order_by(Evaluation.id.desc())
        ).all()
        for row in rows:
            if row.config == config and (row.breakdown or {}).get("seed") == seed:
                return row.id, float(row.mean)
    return None


def measure(
    items: Sequence[Item],
    name: str,
    options: dict[str, Any],
    embedder,
    *,
    folds: int,
    seed: int,
    url: str | None = None,
    on_fold: Callable[[str, int, float], None] | None = None,
) -> Measured:
    """Grouped CV of one answerer, read from the `evaluations` table when it was already measured."""
    config = make_answerer(name, embedder=embedder, **dict(options)).config()
    sha = data_sha256(items)
    hit = _stored(name, config, embedder.name, sha, folds, seed, url)
    if hit is not None:
        return Measured(name, options, hit[1], f"{folds}-fold CV, evaluation #{hit[0]}", cached=True)
    res = cross_validate(
        items,
        lambda: make_answerer(name, embedder=embedder, **dict(options)),
        embedder,
        k=folds,
        seed=seed,
        on_fold=(lambda f, m: on_fold(name, f, m)) if on_fold else None,
    )
    eid = store_evaluation(res, url)
    return Measured(name, options, res.mean, f"{folds}-fold CV, evaluation #{eid}")


def measure_llm(
    items: Sequence[Item], options: dict[str, Any], embedder, *, folds: int, seed: int, url: str | None = None
) -> Measured:
    """A LoRA run's score: a stored CV of it on this data, else its run card's validation metric."""
    config = make_answerer("llm", embedder=embedder, **dict(options)).config()
    hit = _stored("llm", config, embedder.name, data_sha256(items), folds, seed, url)
    if hit is not None:
        return Measured("llm", options, hit[1], f"{folds}-fold CV, evaluation #{hit[0]}", cached=True)
    from qa.runs import read_card

    metrics = read_card(options["run_dir"]).get("metrics") or {}
    value = metrics.get("metric")
    if isinstance(value, int | float):
        emb = metrics.get("metric_embedder") or "?"
        n = metrics.get("metric_questions")
        return Measured("llm", options, float(value), f"run card validation metric, {n} questions, {emb}")
    return Measured("llm", options, None, "not measured: the run card has no validation metric")


def choose(
    candidates: Sequence[Measured], explicit: str | None = None, explicit_options: dict | None = None
) -> Choice:
    """The best measured candidate, or the `explicit` one (with a warning when a generating answerer
    measures below the best other one). Pure: no I/O, so the rule is tested on its own."""
    scored = [m for m in candidates if m.mean is not None]
    if explicit is not None and explicit != "auto":
        mine = next((m for m in candidates if m.name == explicit), None)
        others = [m for m in scored if m.name != explicit]
        best_other = max(others, key=lambda m: m.mean) if others else None
        warning = None
        if mine is not None and best_other is not None and (mine.mean is None or mine.mean < best_other.mean):
            got = "unmeasured" if mine.mean is None else f"{mine.mean:.4f} ({mine.how})"
            warning = (
                f"answerer {explicit} measures {got}, below {best_other.name} "
                f"{best_other.mean:.4f} ({best_other.how}); using {explicit} because it was named"
            )
        return Choice(
            explicit,
            dict(explicit_options or (mine.options if mine else {})),
            mine.mean if mine else None,
            mine.how if mine else "named explicitly, not measured",
            list(candidates),
            warning,
        )
    if not scored:
        raise ValueError("no answerer could be measured")
    best = max(scored, key=lambda m: m.mean)  # ties: the first (simplest) candidate
    return Choice(best.name, dict(best.options), best.mean, best.how, list(candidates))


def auto_choice(
    items: Sequence[Item],
    embedder,
    *,
    run_dir: str | None = None,
    llm_options: dict[str, Any] | None = None,
    explicit: str | None = None,
    explicit_options: dict[str, Any] | None = None,
    folds: int = 5,
    seed: int = 42,
    url: str | None = None,
    on_fold: Callable[[str, int, float], None] | None = None,
) -> Choice:
    """Measure the candidates (cached) and choose (see the module docstring)."""
    k = cv_folds(len(items), folds)
    measured = []
    for name in EXTRACTIVE:
        opts = dict(explicit_options or {}) if explicit == name else {}
        measured.append(measure(items, name, opts, embedder, folds=k, seed=seed, url=url, on_fold=on_fold))
    if run_dir:
        opts = {**(llm_options or {}), "run_dir": str(run_dir)}
        try:
            measured.append(measure_llm(items, opts, embedder, folds=k, seed=seed, url=url))
        except ConfigError as exc:  # an unfinished or broken run competes as unmeasured, with the reason
            if explicit == "llm":
                raise
            measured.append(Measured("llm", opts, None, f"not measured: {exc}"))
    return choose(measured, explicit, explicit_options)
