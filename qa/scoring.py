"""The DACON 236216 metric, exactly: cosine between the answer's vector and the reference's vector,
a negative cosine counts as 0, mean over questions.

With several references for one question (the five DACON answers, or joined answers for a double
question) the question's score is the mean of the clipped cosines over its references; with one
reference this is the competition's score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foundation.errors import InputError


def clipped_cosines(answer_vecs: np.ndarray, ref_vecs: np.ndarray) -> np.ndarray:
    """max(0, cos(a_i, r_i)) row by row (vectors need not be normalised)."""
    a = np.asarray(answer_vecs, dtype=np.float64)
    r = np.asarray(ref_vecs, dtype=np.float64)
    if a.shape != r.shape or a.ndim != 2:
        raise ValueError(
            f"answer and reference vectors must have the same 2-d shape, got {a.shape} and {r.shape}"
        )
    na, nr = np.linalg.norm(a, axis=1), np.linalg.norm(r, axis=1)
    cos = np.einsum("ij,ij->i", a, r) / np.maximum(na * nr, 1e-12)
    return np.maximum(cos, 0.0)


def question_scores(answer_vecs: np.ndarray, refs_vecs: Sequence[np.ndarray]) -> np.ndarray:
    """Per question: mean over its references of max(0, cos(answer, reference)).

    `refs_vecs[i]` is an (n_refs_i, dim) array of question i's reference vectors.
    """
    a = np.asarray(answer_vecs, dtype=np.float64)
    if len(refs_vecs) != len(a):
        raise ValueError(f"{len(a)} answers but {len(refs_vecs)} reference lists")
    out = np.empty(len(a))
    for i, refs in enumerate(refs_vecs):
        refs = np.atleast_2d(np.asarray(refs, dtype=np.float64))
        if len(refs) == 0:
            raise ValueError(f"question {i} has no reference")
        out[i] = clipped_cosines(np.repeat(a[i : i + 1], len(refs), axis=0), refs).mean()
    return out


def metric(answer_vecs: np.ndarray, refs_vecs: Sequence[np.ndarray]) -> float:
    """The competition score: mean over questions."""
    return float(question_scores(answer_vecs, refs_vecs).mean())


@dataclass
class ScoreResult:
    mean: float
    per_question: np.ndarray
    embedder: str


def score_texts(answers: Sequence[str], references: Sequence[Sequence[str]], embedder) -> ScoreResult:
    """Embed answers and references (one batched, cached call) and score them."""
    if len(answers) != len(references):
        raise ValueError(f"{len(answers)} answers but {len(references)} reference lists")
    flat = [r for refs in references for r in refs]
    vecs = embedder.encode(list(answers) + flat)
    ans, ref = vecs[: len(answers)], vecs[len(answers) :]
    groups, pos = [], 0
    for refs in references:
        groups.append(ref[pos : pos + len(refs)])
        pos += len(refs)
    per_q = question_scores(ans, groups)
    return ScoreResult(float(per_q.mean()) if len(per_q) else float("nan"), per_q, embedder.name)


# --------------------------------------------------------------------------- files (`dobae score`)

REF_PREFIXES = ("답변", "answer", "ref", "reference")


def read_references(path: Path | str) -> dict[str, list[str]]:
    """id → reference answers: every column named 답변*, answer*, ref* (e.g. dev.csv's 답변_1 … 답변_5)."""
    from db.tabular import missing, read_csv

    table = read_csv(path, "references CSV")
    if "id" not in table.columns:
        raise InputError(f"{table.path}: needs an 'id' column (found: {', '.join(table.columns)})")
    cols = [c for c in table.columns if c.lower().startswith(REF_PREFIXES)]
    if not cols:
        raise InputError(f"{table.path}: no reference column (names starting with 답변, answer or ref)")
    refs: dict[str, list[str]] = {}
    for rec in table.records:
        rid = rec.values["id"]
        if rid in refs:
            raise InputError(f"{table.where(rec, 'id')}: duplicate id {rid!r}")
        texts = [rec.values[c] for c in cols if not missing(rec.values[c])]  # `NaN`, `-`: no reference
        if not texts:
            raise InputError(f"{table.where(rec, cols[0])}: no reference text")
        refs[rid] = texts
    return refs


def read_answers(path: Path | str) -> tuple[list[str], list[str] | None, np.ndarray | None]:
    """(ids, answer texts, None) from an answers CSV (id, answer), or (ids, None, vectors) from a
    submission CSV (id, vec_0 … vec_N)."""
    from db.spreadsheet import restore
    from db.tabular import clean, read_csv

    table = read_csv(path, "answers CSV")
    for rec in table.records:  # undo the formula guard of the answers.csv that dobae writes
        rec.values.update({k: clean(restore(v)) for k, v in rec.values.items()})
    if "id" not in table.columns:
        raise InputError(f"{table.path}: needs an 'id' column (found: {', '.join(table.columns)})")
    ids = [r.values["id"] for r in table.records]
    vec_cols = [c for c in table.columns if c.startswith("vec_")]
    if vec_cols:
        rows = []
        for rec in table.records:
            try:
                rows.append([float(rec.values[c]) for c in vec_cols])
            except ValueError as exc:
                raise InputError(f"{table.path}, line {rec.line}: not a number ({exc})") from exc
        return ids, None, np.asarray(rows)
    col = next((c for c in ("answer", "답변", "generated") if c in table.columns), None)
    if col is None:
        raise InputError(f"{table.path}: needs an 'answer' column or vec_0 … columns")
    return ids, [r.values[col] for r in table.records], None


def score_files(refs_path: Path | str, answers_path: Path | str, embedder) -> ScoreResult:
    refs = read_references(refs_path)
    ids, texts, vecs = read_answers(answers_path)
    missing = [i for i in ids if i not in refs]
    if missing:
        raise InputError(
            f"{answers_path}: {len(missing)} ids have no reference in {refs_path}, e.g. {missing[0]!r}"
        )
    if not ids:
        raise InputError(f"{answers_path}: no rows")
    ref_lists = [refs[i] for i in ids]
    if texts is not None:
        return score_texts(texts, ref_lists, embedder)
    if vecs is None:  # read_answers returns texts or vectors, never neither
        raise InputError(f"{answers_path}: neither answers nor vectors")
    flat = embedder.encode([r for rs in ref_lists for r in rs])
    groups, pos = [], 0
    for rs in ref_lists:
        groups.append(flat[pos : pos + len(rs)])
        pos += len(rs)
    if vecs.shape[1] != flat.shape[1]:
        raise InputError(
            f"{answers_path}: {vecs.shape[1]} vector columns, the embedder gives {flat.shape[1]}"
        )
    per_q = question_scores(vecs, groups)
    return ScoreResult(float(per_q.mean()), per_q, embedder.name)
