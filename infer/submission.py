"""The offline DACON submission: `answers.csv` (id, 질문, answer) for people and `submission.csv`
(id, vec_0 … vec_511), one row per test id in test order, validated before anything is written;
`submission.json` records the answerer, its config, the embedder and the commit that made them."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foundation.errors import DobaeError, InputError

DIM = 512
ANSWERS_FILE = "answers.csv"
ANSWERED_BY_FILE = "answered_by.csv"
SUBMISSION_FILE = "submission.csv"
META_FILE = "submission.json"


@dataclass
class SubmissionSummary:
    out_dir: Path
    rows: int
    embedder: str
    embedder_description: str
    answerer: str
    is_proxy: bool
    selected_by: str = "named with --answerer"
    measured: str = ""
    warning: str | None = None


def validate(
    ids: Sequence[str], expected_ids: Sequence[str], answers: Sequence[str], vectors: np.ndarray
) -> None:
    """Row count, ids (unique, same order as the questions), non-empty answers, DIM finite floats."""
    n = len(expected_ids)
    if len(ids) != n or len(answers) != n or len(vectors) != n:
        raise DobaeError(
            f"submission has {len(ids)} ids, {len(answers)} answers and {len(vectors)} vectors for {n} questions"
        )
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if list(ids).count(i) > 1)
        raise DobaeError(f"submission id {dup!r} appears twice")
    for pos, (got, want) in enumerate(zip(ids, expected_ids, strict=True)):
        if got != want:
            raise DobaeError(f"submission row {pos + 1}: id {got!r}, expected {want!r} (test order)")
    for pos, a in enumerate(answers):
        if not isinstance(a, str) or not a.strip():
            raise DobaeError(f"answer for {ids[pos]!r} is empty")
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[1] != DIM:
        raise DobaeError(f"vectors have shape {vectors.shape}, expected ({n}, {DIM})")
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        raise DobaeError(f"vector of {ids[int(np.argmax(bad))]!r} has non-finite values (NaN/inf)")


def _atomic_write(path: Path, header: list[str], rows: list[list], guard: bool = False) -> None:
    """Write a CSV atomically; `guard`: no text cell may run as a spreadsheet formula
    (`db.spreadsheet.neutralise`, undone by the readers: `dobae score` reads answers.csv back)."""
    from db.spreadsheet import neutralise

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows([[neutralise(v) for v in row] for row in rows] if guard else rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_submission(
    out_dir: Path | str,
    ids: Sequence[str],
    questions: Sequence[str],
    answers: Sequence[str],
    vectors: np.ndarray,
    *,
    force: bool = False,
) -> None:
    """Validate, then write both files (each atomically). Refuses to overwrite unless `force`."""
    out = Path(out_dir)
    targets = [out / ANSWERS_FILE, out / SUBMISSION_FILE]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise InputError(
            f"{existing[0]} already exists; pass --force to overwrite it or choose another --out"
        )
    validate(ids, ids, answers, vectors)
    if len(questions) != len(ids):
        raise DobaeError(f"{len(questions)} questions for {len(ids)} ids")
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(
        targets[0],
        ["id", "질문", "answer"],
        [[i, q, a] for i, q, a in zip(ids, questions, answers, strict=True)],
        guard=True,  # texts people open in a spreadsheet (submission.csv holds ids and numbers)
    )
    header = ["id", *[f"vec_{j}" for j in range(DIM)]]
    _atomic_write(
        targets[1], header, [[i, *(repr(float(x)) for x in v)] for i, v in zip(ids, vectors, strict=True)]
    )


def check_submission_file(path: Path | str, expected_ids: Sequence[str]) -> np.ndarray:
    """Read a written submission.csv back and check it (used by `dobae submit` after writing, and tests)."""
    from db.tabular import read_csv

    table = read_csv(path, "submission CSV")
    want = ["id", *[f"vec_{j}" for j in range(DIM)]]
    if table.columns != want:
        raise InputError(f"{path}: header must be id, vec_0 … vec_{DIM - 1}")
    ids = [r.values["id"] for r in table.records]
    try:
        vecs = np.asarray([[float(r.values[c]) for c in want[1:]] for r in table.records])
    except ValueError as exc:
        raise InputError(f"{path}: a vector cell is not a number ({exc})") from exc
    validate(
        ids, expected_ids, ["x"] * len(ids), vecs.reshape(len(ids), -1) if len(ids) else vecs.reshape(0, DIM)
    )
    return vecs


def write_answered_by(out: Path, ids: Sequence[str], by: Sequence[str], why: Sequence[str]) -> None:
    """`answered_by.csv`: which answerer answered each test question, and the score that chose it."""
    _atomic_write(
        out / ANSWERED_BY_FILE,
        ["id", "answered_by", "selected_by"],
        [[i, b, w] for i, b, w in zip(ids, by, why, strict=True)],
        guard=True,
    )


def _write_meta(out: Path, questions_path, answerer, embedder, rows: int, selection=None) -> None:
    """`submission.json`: what made these files (answerer, config, embedder, inputs, commit)."""
    import hashlib
    import json
    from datetime import UTC, datetime

    from infer.evaluation.cv import git_commit

    meta = {
        "answerer": answerer.name,
        "config": answerer.config(),
        "embedder": embedder.name,
        "embedder_description": embedder.description,
        "embedder_is_proxy": bool(embedder.is_proxy),
        "questions": str(Path(questions_path).resolve()),
        "questions_sha256": hashlib.sha256(Path(questions_path).read_bytes()).hexdigest(),
        "rows": rows,
        "selection": selection,
        "git_commit": git_commit(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def make_submission(
    questions_path: Path | str,
    out_dir: Path | str,
    answerer_name: str,
    *,
    options: dict | None = None,
    embedder_spec: str | None = None,
    force: bool = False,
    url: str | None = None,
    folds: int = 5,
    seed: int | None = None,
    on_fold=None,
) -> SubmissionSummary:
    """Fit the answerer on the imported DACON rows, answer the test questions, embed, validate, write.

    `answerer_name="auto"` (and `llm`, for its warning) first measures the answerers by grouped CV
    (`infer.evaluation.auto`, cached in `evaluations`) and answers with the best one; with `auto`, `options`
    go to the LoRA run named by `options["run_dir"]`.
    """
    from db.dacon import read_test
    from infer.answerer import make_answerer
    from infer.evaluation.auto import GENERATIVE, auto_choice
    from infer.evaluation.cv import load_items, train_pairs
    from qa.embedders import load_embedder

    out = Path(out_dir)
    for t in (out / ANSWERS_FILE, out / SUBMISSION_FILE):
        if t.exists() and not force:
            raise InputError(f"{t} already exists; pass --force to overwrite it or choose another --out")
    options = dict(options or {})
    if answerer_name in GENERATIVE and not options.get("run_dir"):  # before the CV of every answerer
        raise InputError(
            f"--answerer {answerer_name} needs --run RUN_DIR (a training run folder, from `dobae train`)"
        )
    run_dir = options.get("run_dir")
    if run_dir and not (Path(run_dir) / "run_card.json").is_file():
        raise InputError(f"--run {run_dir}: not a training run folder (no run_card.json)")
    tests = read_test(questions_path)
    items = load_items(url)
    embedder = load_embedder(embedder_spec)
    choice = None
    if answerer_name == "auto" or answerer_name in GENERATIVE:
        if answerer_name == "auto" and options and "run_dir" not in options:
            raise InputError("--answerer auto: -o options configure the LoRA run; pass --run RUN_DIR")
        if seed is None:
            from foundation.settings import get_settings

            seed = get_settings().seed
        choice = auto_choice(
            items,
            embedder,
            run_dir=options.get("run_dir"),
            llm_options={k: v for k, v in options.items() if k != "run_dir"},
            explicit=None if answerer_name == "auto" else answerer_name,
            explicit_options=None if answerer_name == "auto" else options,
            folds=folds,
            seed=seed,
            url=url,
            on_fold=on_fold,
        )
        answerer_name, options = choice.name, choice.options
    answerer = make_answerer(answerer_name, embedder=embedder, **options)
    answerer.fit(train_pairs(items))
    ids = [t.id for t in tests]
    questions = [t.question for t in tests]
    answers = answerer.answer(questions)
    vectors = embedder.encode(answers)
    write_submission(out, ids, questions, answers, vectors, force=force)
    check_submission_file(out / SUBMISSION_FILE, ids)
    why = choice.reason() if choice else "named with --answerer"
    write_answered_by(out, ids, [answerer.name] * len(ids), [why] * len(ids))
    selection = (
        {"chosen": choice.name, "reason": why, "measured": choice.table(), "warning": choice.warning}
        if choice
        else None
    )
    _write_meta(out, questions_path, answerer, embedder, len(ids), selection)
    return SubmissionSummary(
        out,
        len(ids),
        embedder.name,
        embedder.description,
        answerer.name,
        embedder.is_proxy,
        selected_by=why,
        measured=choice.table() if choice else "",
        warning=choice.warning if choice else None,
    )
