"""The `compose` answerer: an extractive consensus answer built from the nearest items' sentences.

`dobae evaluate --answerer compose` / `dobae submit --answerer compose -o max_sentences=3`

It writes nothing new: every sentence of its answer is a sentence of a training answer.
For each question (compound questions split at 또한 / 그리고, each part composed alone, the parts
joined in order):

1. **retrieve** the top-`k` training items by the retrieval answerer's hybrid similarity plus
   `answer_weight` × the cosine between the question and the item's mean answer vector, and weight
   them by similarity to the `power`-th power (the nearest items dominate);
2. **target**: the weighted centroid of the embeddings of all their answers, plus `ridge` × the
   normalised prediction of a ridge regression (`ridge_alpha`) from question features (embedding ⊕
   char n-gram TF-IDF) to an item's mean answer vector, fitted on the training pairs only;
3. **compose**: split the items' answers into sentences (Kiwi, `qa.sentences`); open with the
   nearest item's sentence closest to the target (not one that leans on a previous sentence,
   "이를 통해 …"), then add, one at a time, the sentence that brings the *real embedding of the
   joined text* closest to the target (the `shortlist` best by a vector-sum estimate are embedded
   for real), skipping near-duplicates (cosine ≥ `dup` to a chosen sentence), and stopping at the
   budget: the embedder reads `WINDOW` word-pieces, so anything past them scores nothing
   (`overflow`: the last sentence may cross the budget, the embedder reads its start; without it
   only sentences that fit are added). A compound question's first part gets `first_share` of the
   budget (its reference is read first), the other parts at least their opening sentence;
4. **choose** among the prefixes (1, 2, … sentences) the one whose real embedding is closest to
   the target, or (`whole` > 0) a whole answer of the `whole` nearest items when it is closer;
   `max_sentences` caps the length (brevity for score).

`trace` (after `answer`) keeps, per question part, which retrieved item (by rank) each sentence
came from — the share taken from items far from the question is reported in docs/evaluation.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infer.answerer import register_answerer
from qa.embedders import WINDOW, approx_wordpieces
from qa.pairs import Pair
from qa.retrieval import RetrievalAnswerer
from qa.sentences import ANAPHORIC_OPENING, join_sentences, split_sentences
from qa.splitting import clean_question, split_question


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


@dataclass
class PartTrace:
    """How one question part was composed: its retrieved items and the source of each sentence."""

    question: str
    items: list[tuple[str, float]]  # (group id, similarity) of the top-k, nearest first
    sentences: list[str] = field(default_factory=list)
    source_ranks: list[int] = field(default_factory=list)  # rank (0 = nearest) of each sentence's item
    top_sentences: list[str] = field(default_factory=list)  # the sentences closest to the target

    @property
    def answer(self) -> str:
        return join_sentences(self.sentences)


@dataclass
class _Part:
    texts: list[str]
    vecs: np.ndarray
    ranks: list[int]
    target: np.ndarray
    budget: int
    chosen: list[int] = field(default_factory=list)
    prefixes: list[tuple[float, list[int]]] = field(default_factory=list)
    active: bool = True


@register_answerer("compose")
class ComposeAnswerer:
    name = "compose"

    def __init__(
        self,
        embedder: Any = None,
        k: int = 20,
        weight: float = 0.7,
        answer_weight: float = 1.0,
        power: float = 4.0,
        ridge: float = 1.5,
        ridge_alpha: float = 1.0,
        max_sentences: int = 0,
        shortlist: int = 6,
        dup: float = 0.9,
        budget: int = WINDOW - 2,
        first_share: float = 1.0,
        overflow: bool = True,
        whole: int = 0,
        near: float = 0.0,
        split: bool = True,
    ) -> None:
        if int(k) < 1:
            raise ValueError(f"k={k}: must be at least 1")
        if float(power) < 0 or float(ridge) < 0 or float(ridge_alpha) <= 0:
            raise ValueError("power and ridge must be >= 0, ridge_alpha > 0")
        if int(max_sentences) < 0 or int(shortlist) < 1 or int(budget) < 1:
            raise ValueError("max_sentences >= 0 (0 = no cap), shortlist >= 1, budget >= 1")
        if not 0 < float(dup) <= 1 or not 0 < float(first_share) <= 1:
            raise ValueError("dup and first_share must be in (0, 1]")
        self.retriever = RetrievalAnswerer(embedder=embedder, k=int(k), weight=float(weight), split=False)
        self.embedder = self.retriever.embedder
        self.k, self.answer_weight, self.power = int(k), float(answer_weight), float(power)
        self.ridge, self.ridge_alpha = float(ridge), float(ridge_alpha)
        self.max_sentences, self.shortlist, self.dup = int(max_sentences), int(shortlist), float(dup)
        self.budget, self.first_share = int(budget), float(first_share)
        self.overflow = _flag(overflow)
        if int(whole) < 0:
            raise ValueError(f"whole={whole}: must be >= 0 (0 = composed answers only)")
        self.whole = int(whole)
        if not 0 <= float(near) <= 1:
            raise ValueError(f"near={near}: must be in [0, 1] (0 = every retrieved item may give sentences)")
        self.near = float(near)
        self.split = _flag(split)
        self.trace: list[list[PartTrace]] = []
        self._fitted = False

    def config(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "weight": self.retriever.weight,
            "answer_weight": self.answer_weight,
            "power": self.power,
            "ridge": self.ridge,
            "ridge_alpha": self.ridge_alpha,
            "max_sentences": self.max_sentences,
            "shortlist": self.shortlist,
            "dup": self.dup,
            "budget": self.budget,
            "first_share": self.first_share,
            "overflow": self.overflow,
            "whole": self.whole,
            "near": self.near,
            "split": self.split,
            "splitter": "kiwipiepy",
            "embedder": self.embedder.name,
        }

    # ------------------------------------------------------------------ fitting

    def fit(self, pairs: Sequence[Pair]) -> None:
        r = self.retriever
        r.fit(pairs)
        n = len(r.group_ids)
        self._mean = _unit(np.stack([_unit(r.answer_vectors(g)).mean(axis=0) for g in range(n)]))
        # sentences of every item's answers, deduplicated per item, with their vectors
        split = split_sentences([a for answers in r.group_answers for a in answers])
        self._sents: list[list[str]] = []
        pos = 0
        for answers in r.group_answers:
            seen = dict.fromkeys(s for sents in split[pos : pos + len(answers)] for s in sents)
            self._sents.append(list(seen))
            pos += len(answers)
        flat = [s for sents in self._sents for s in sents]
        vecs = self.embedder.encode(flat) if flat else np.zeros((0, 1))
        self._sent_vecs, pos = [], 0
        for sents in self._sents:
            self._sent_vecs.append(np.asarray(vecs[pos : pos + len(sents)], dtype=np.float64))
            pos += len(sents)
        self._ridge = None
        if self.ridge > 0:
            self._fit_ridge()
        self._fitted = True

    def _features(self, dense: np.ndarray, lex) -> Any:
        from scipy.sparse import csr_matrix, hstack

        return hstack([csr_matrix(np.asarray(dense, dtype=np.float64)), lex]).tocsr()

    def _fit_ridge(self) -> None:
        from infer.ridge import Ridge

        dense, lex, group_of = self.retriever.phrasing_features()
        if dense is None:
            dense = self.embedder.encode(self.retriever._entries)
        self._ridge = Ridge(alpha=self.ridge_alpha).fit(self._features(dense, lex), self._mean[group_of])

    # ------------------------------------------------------------------ answering

    def _targets(self, parts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(n_parts, n_items) similarity and (n_parts, dim) unit targets."""
        r = self.retriever
        dense, lex = r.question_features(parts)
        sims = r.similarity(parts) + self.answer_weight * (np.asarray(dense, dtype=np.float64) @ self._mean.T)
        targets = np.zeros((len(parts), self._mean.shape[1]))
        for i, row in enumerate(sims):
            top = np.argsort(-row, kind="stable")[: self.k]
            w = np.maximum(row[top], 1e-6) ** self.power
            centroid = sum(wt * r.answer_vectors(g).sum(axis=0) for g, wt in zip(top, w, strict=True))
            targets[i] = _unit(centroid)
        if self._ridge is not None:
            pred = _unit(self._ridge.predict(self._features(dense, lex)))
            targets = targets + self.ridge * pred
        return sims, _unit(targets)

    def _candidates(self, row: np.ndarray, target: np.ndarray, budget: int) -> _Part:
        top = np.argsort(-row, kind="stable")[: self.k]
        texts: dict[str, int] = {}
        vecs, ranks = [], []
        for rank, g in enumerate(top):
            if rank and row[g] < self.near * row[top[0]]:  # too far from the question to quote
                continue
            for s, v in zip(self._sents[g], self._sent_vecs[g], strict=True):
                if s not in texts:
                    texts[s] = len(ranks)
                    vecs.append(v)
                    ranks.append(rank)
        return _Part(list(texts), np.asarray(vecs), ranks, target, budget)

    def _lead(self, part: _Part) -> int:
        """The nearest item's sentence closest to the target (one that can open an answer)."""
        scores = part.vecs @ part.target
        nearest = [i for i, rk in enumerate(part.ranks) if rk == 0]
        openers = [i for i in nearest if not ANAPHORIC_OPENING.match(part.texts[i])] or nearest
        return max(openers, key=lambda i: scores[i])

    def _step_candidates(self, part: _Part) -> list[int]:
        if self.max_sentences and len(part.chosen) >= self.max_sentences:
            return []
        chosen = part.vecs[part.chosen]
        current = join_sentences([part.texts[i] for i in part.chosen])
        used = approx_wordpieces(current)
        if used >= part.budget:
            return []
        total = chosen.sum(axis=0)
        ok = []
        for i in range(len(part.texts)):
            if i in part.chosen:
                continue
            if not self.overflow and used + 1 + approx_wordpieces(part.texts[i]) > part.budget:
                continue
            if float(np.max(chosen @ part.vecs[i])) >= self.dup:
                continue
            ok.append(i)
        if not ok:
            return []
        est = _unit(total[None, :] + part.vecs[ok]) @ part.target
        return [ok[j] for j in np.argsort(-est, kind="stable")[: self.shortlist]]

    def _compose_parts(self, parts: list[_Part]) -> None:
        for p in parts:
            p.chosen = [self._lead(p)]
            p.prefixes = [(float(p.vecs[p.chosen[0]] @ p.target), list(p.chosen))]
        while True:
            todo: list[tuple[_Part, int, str]] = []
            for p in parts:
                if not p.active:
                    continue
                cands = self._step_candidates(p)
                if not cands:
                    p.active = False
                    continue
                head = [p.texts[i] for i in p.chosen]
                todo += [(p, i, join_sentences([*head, p.texts[i]])) for i in cands]
            if not todo:
                return
            vecs = _unit(self.embedder.encode([t for _, _, t in todo]))
            best: dict[int, tuple[float, _Part, int]] = {}
            for (p, i, _), v in zip(todo, vecs, strict=True):
                s = float(v @ p.target)
                if id(p) not in best or s > best[id(p)][0]:
                    best[id(p)] = (s, p, i)
            for s, p, i in best.values():
                p.chosen.append(i)
                p.prefixes.append((s, list(p.chosen)))

    def _budgets(self, n_parts: int) -> list[int]:
        """Word-piece budget of each part of a question split in `n_parts`."""
        if n_parts == 1:
            return [self.budget]
        rest = max(1, int(self.budget * (1 - self.first_share) / (n_parts - 1)))
        return [int(self.budget * self.first_share)] + [rest] * (n_parts - 1)

    def compose_parts(self, parts: Sequence[str], budgets: Sequence[int] | None = None) -> list[PartTrace]:
        """Compose an answer for each (already split) question part; `PartTrace.sentences` joined
        with a space is the part's answer, `candidates` its best single sentences."""
        if not self._fitted:
            raise RuntimeError("call fit() first")
        if not parts:
            return []
        budgets = list(budgets) if budgets is not None else [self.budget] * len(parts)
        sims, targets = self._targets(parts)
        states = [self._candidates(sims[i], targets[i], budgets[i]) for i in range(len(parts))]
        self._compose_parts(states)
        out = []
        for q, p, row in zip(parts, states, sims, strict=True):
            score, chosen = max(p.prefixes, key=lambda x: x[0])
            top = np.argsort(-row, kind="stable")[: self.k]
            sentences, ranks = [p.texts[i] for i in chosen], [p.ranks[i] for i in chosen]
            for rank, g in enumerate(top[: self.whole]):  # a whole training answer may do better
                vecs = _unit(self.retriever.answer_vectors(g))
                j = int(np.argmax(vecs @ p.target))
                if float(vecs[j] @ p.target) > score:
                    score = float(vecs[j] @ p.target)
                    [sentences] = split_sentences([self.retriever.group_answers[g][j]])
                    sentences, ranks = list(sentences), [rank] * len(sentences)
            best_single = np.argsort(-(p.vecs @ p.target), kind="stable")[:5]
            out.append(
                PartTrace(
                    q,
                    [(self.retriever.group_ids[g], float(row[g])) for g in top],
                    sentences,
                    ranks,
                    [p.texts[i] for i in best_single],
                )
            )
        return out

    def answer(self, questions: Sequence[str]) -> list[str]:
        if not self._fitted:
            raise RuntimeError("call fit() first")
        split = [split_question(q) if self.split else [clean_question(q)] for q in questions]
        flat = [p for ps in split for p in ps]
        budgets = [b for ps in split for b in self._budgets(len(ps))]
        traces = self.compose_parts(flat, budgets)
        out, self.trace, pos = [], [], 0
        for ps in split:
            mine = traces[pos : pos + len(ps)]
            out.append(join_sentences([join_sentences(t.sentences) for t in mine]))
            self.trace.append(mine)
            pos += len(ps)
        return out
