"""The `retrieval` answerer: answer with the reference answers of the nearest training questions.

Also the retriever of the LLM answerer's RAG context: `retrieve(question, k)` returns the k nearest
training items as (question, answer, score).

- Compound questions are split at 또한 / 그리고 (`qa.splitting`); each part is answered alone and
  the parts' answers are joined with a space (as the joined references of a double question are).
- Similarity of a question to a training item = `weight` × embedding cosine + (1 − `weight`) ×
  character n-gram TF-IDF cosine (2–3-grams inside word boundaries, which suits Korean's
  agglutinated endings), maximised over the item's question phrasings. `weight=1`: embedding only,
  `weight=0`: lexical only.
- Defaults (k=5, weight=0.7, centroid) were picked by 5-fold CV on dev.csv under two seeds
  (benchmarks/eval_bench.py; differences between nearby settings are within ±0.01).
- `compose=top1`: the nearest item's most central answer (closest to the mean of its answers);
  `compose=centroid`: among all answers of the top-`k` items, the one closest to the
  similarity-weighted centroid of their vectors (the consensus answer).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from qa.pairs import Pair
from qa.splitting import clean_question, split_question

COMPOSE = ("top1", "centroid")


class RetrievalAnswerer:
    name = "retrieval"

    def __init__(
        self,
        embedder: Any = None,
        k: int = 5,
        weight: float = 0.7,
        compose: str = "centroid",
        split: bool = True,
        ngram_min: int = 2,
        ngram_max: int = 3,
    ) -> None:
        if compose not in COMPOSE:
            raise ValueError(f"compose={compose!r}: choose one of {', '.join(COMPOSE)}")
        if not 0.0 <= float(weight) <= 1.0:
            raise ValueError(f"weight={weight}: must be between 0 (lexical only) and 1 (embedding only)")
        if int(k) < 1:
            raise ValueError(f"k={k}: must be at least 1")
        if not 1 <= int(ngram_min) <= int(ngram_max):
            raise ValueError(f"ngram_min={ngram_min}, ngram_max={ngram_max}: need 1 <= min <= max")
        if embedder is None:
            from qa.embedders import load_embedder

            embedder = load_embedder()
        self.embedder = embedder
        self.k, self.weight, self.compose = int(k), float(weight), compose
        self.split = split if isinstance(split, bool) else str(split).lower() in ("1", "true", "yes")
        self.ngram = (int(ngram_min), int(ngram_max))
        self._fitted = False

    def config(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "weight": self.weight,
            "compose": self.compose,
            "split": self.split,
            "ngram": list(self.ngram),
            "embedder": self.embedder.name,
        }

    # ------------------------------------------------------------------ fitting

    def fit(self, pairs: Sequence[Pair]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if not pairs:
            raise ValueError("retrieval needs at least one training pair")
        groups: dict[str, dict[str, Any]] = {}
        for p in pairs:
            g = groups.setdefault(p.group_id, {"questions": {}, "answers": {}})
            g["questions"][clean_question(p.question)] = None
            g["answers"][p.answer.strip()] = None
        self.group_ids = list(groups)
        self._group_index = {g: i for i, g in enumerate(self.group_ids)}
        self.group_questions = [list(groups[g]["questions"]) for g in self.group_ids]
        self.group_answers = [list(groups[g]["answers"]) for g in self.group_ids]
        # entries: every question phrasing, contiguous per group (for reduceat)
        self._entries = [q for qs in self.group_questions for q in qs]
        self._starts = np.concatenate([[0], np.cumsum([len(qs) for qs in self.group_questions])[:-1]])
        self._tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=self.ngram, sublinear_tf=True)
        self._lex = self._tfidf.fit_transform(self._entries)
        self._qvecs = self.embedder.encode(self._entries) if self.weight > 0 else None
        flat = [a for answers in self.group_answers for a in answers]
        vecs = self.embedder.encode(flat)
        self._answer_vecs, pos = [], 0
        for answers in self.group_answers:
            self._answer_vecs.append(vecs[pos : pos + len(answers)])
            pos += len(answers)
        self._central = [int(np.argmax(v @ v.mean(axis=0))) for v in self._answer_vecs]
        self._fitted = True

    # ------------------------------------------------------------------ retrieval

    def _entry_similarity(self, queries: Sequence[str]) -> np.ndarray:
        """(n_queries, n_phrasings) combined similarity to every training question phrasing."""
        if not self._fitted:
            raise RuntimeError("call fit() first")
        queries = [clean_question(q) for q in queries]
        sim = np.zeros((len(queries), len(self._entries)))
        if self.weight < 1:
            sim += (1 - self.weight) * (self._tfidf.transform(queries) @ self._lex.T).toarray()
        if self._qvecs is not None:  # encoded in fit() when weight > 0
            sim += self.weight * (self.embedder.encode(queries) @ self._qvecs.T)
        return sim

    def _similarity(self, queries: Sequence[str]) -> np.ndarray:
        """(n_queries, n_groups): the best phrasing's similarity per training item."""
        return np.maximum.reduceat(self._entry_similarity(queries), self._starts, axis=1)

    def similarity(self, queries: Sequence[str]) -> np.ndarray:
        """(n_queries, n_groups) hybrid similarity to every training item (order: `group_ids`)."""
        return self._similarity(queries)

    def answer_vectors(self, group: int) -> np.ndarray:
        """The embeddings of training item `group`'s answers (order: `group_answers[group]`)."""
        return self._answer_vecs[group]

    def question_features(self, queries: Sequence[str]):
        """(dense embeddings, sparse char n-gram TF-IDF rows) of cleaned `queries`."""
        queries = [clean_question(q) for q in queries]
        return self.embedder.encode(queries), self._tfidf.transform(queries)

    def phrasing_features(self):
        """(dense embeddings or None, sparse TF-IDF rows, group index) of every training phrasing."""
        group_of = np.repeat(np.arange(len(self.group_ids)), [len(qs) for qs in self.group_questions])
        return self._qvecs, self._lex, group_of

    def retrieve(self, question: str, k: int | None = None) -> list[tuple[str, str, float]]:
        """The `k` nearest training items: (their closest question phrasing, their most central answer, score)."""
        return self.retrieve_many([question], k)[0]

    def retrieve_many(
        self,
        questions: Sequence[str],
        k: int | None = None,
        exclude_groups: Sequence[str | Collection[str] | None] | None = None,
    ) -> list[list[tuple[str, str, float]]]:
        """`retrieve` for many questions; the group id(s) `exclude_groups[i]` are never returned for
        question i (the trainer excludes an example's own groups: their pairs hold its answer)."""
        k = min(k or self.k, len(self.group_ids))
        if exclude_groups is not None and len(exclude_groups) != len(questions):
            raise ValueError("exclude_groups needs one group id (or None) per question")
        entry_sims = self._entry_similarity(questions)
        sims = np.maximum.reduceat(entry_sims, self._starts, axis=1)
        out = []
        for i, (entry_row, row) in enumerate(zip(entry_sims, sims, strict=True)):
            order = np.argsort(-row, kind="stable")
            excluded = exclude_groups[i] if exclude_groups is not None else None
            if excluded:
                excluded = [excluded] if isinstance(excluded, str) else excluded
                skip = [self._group_index[g] for g in excluded if g in self._group_index]
                order = order[~np.isin(order, skip)]
            items = []
            for g in order[:k]:
                start = self._starts[g]
                best = int(np.argmax(entry_row[start : start + len(self.group_questions[g])]))
                items.append(
                    (self.group_questions[g][best], self.group_answers[g][self._central[g]], float(row[g]))
                )
            out.append(items)
        return out

    # ------------------------------------------------------------------ answering

    def _compose(self, row: np.ndarray) -> str:
        order = np.argsort(-row, kind="stable")
        if self.compose == "top1":
            g = int(order[0])
            return self.group_answers[g][self._central[g]]
        top = order[: min(self.k, len(order))]
        weights = np.maximum(row[top], 1e-6)
        cands = [(g, i) for g in top for i in range(len(self.group_answers[g]))]
        vecs = np.concatenate([self._answer_vecs[g] for g in top])
        w = np.concatenate(
            [np.full(len(self._answer_vecs[g]), wt) for g, wt in zip(top, weights, strict=True)]
        )
        centroid = (w[:, None] * vecs).sum(axis=0)
        g, i = cands[int(np.argmax(vecs @ centroid))]
        return self.group_answers[g][i]

    def answer(self, questions: Sequence[str]) -> list[str]:
        parts = [split_question(q) if self.split else [clean_question(q)] for q in questions]
        flat = [p for ps in parts for p in ps]
        sims = self._similarity(flat) if flat else np.zeros((0, len(self.group_ids)))
        composed = [self._compose(row) for row in sims]
        out, pos = [], 0
        for ps in parts:
            out.append(" ".join(composed[pos : pos + len(ps)]))
            pos += len(ps)
        return out


def make_retriever(pairs: Sequence[Pair], embedder: Any) -> RetrievalAnswerer:
    """The retriever with its defaults, fitted on `pairs`: the RAG context of inference and of
    training with context (`data.context_k`), so both see the same kind of context."""
    r = RetrievalAnswerer(embedder=embedder)
    r.fit(pairs)
    return r
