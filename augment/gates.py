"""Quality gates: every generated pair gets approved / needs_review / rejected with reasons.

Built on the one filter framework (`augment.filters`, datatrove's shape): each gate is a small
`Gate` class whose `check(candidate, ctx)` returns `True` or `(False, "reason")`; defining it
registers it, and the pipeline runs the gates in the order named by `settings.augment.gates.order`
(order is data), collects every failing reason, and maps them to a status: a reason in
`gates.reject` rejects the pair, any other reason sends it to human review. Nothing is dropped:
rejected pairs are stored with their reasons too.

The context holds what the gates compare against: the existing corpus (exact, MinHash-LSH and
embedding indexes per field), the test questions (leakage), and an embedder. Pairs that pass
(approved or needs_review) join the corpus, so duplicates within one job are caught as well.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from augment.dedup import NearDuplicateIndex, bigrams, normalise
from augment.embedding import Embedder, default_embedder
from augment.filters import Filter, FilterPipeline, FilterResult
from db.models import ReviewStatus
from foundation.settings import GateSettings
from qa.sentences import split_at_marks
from qa.splitting import split_question

Field = Literal["question", "answer"]
GateResult = FilterResult

REFUSAL = re.compile(
    r"(AI\s*언어\s*모델|언어\s*모델(로서|로써|이기)|인공지능(으로서|이라서)|죄송하지만|죄송합니다만|"
    r"도와\s*드릴\s*수\s*없|답변(을|해)?\s*드릴\s*수\s*없|제공할\s*수\s*없습니다|"
    r"as an ai|i'?m sorry|i cannot|i can'?t help|language model)",
    re.I,
)
INJECTION = re.compile(
    r"((이전|위의?|앞의?|기존)\s*(의\s*)?(모든\s*)?(지시|명령|지침|규칙)|(지시|명령|지침)(은|는|을|를|사항을)?\s*(모두\s*)?무시|"
    r"시스템\s*프롬프트|프롬프트를?\s*(출력|공개)|ignore\s+(all\s+)?(the\s+)?(previous|prior|above)\s+instructions|"
    r"system\s+prompt|</?자료>)",
    re.I,
)


def has_injection(*texts: str) -> bool:
    """Whether any text holds an instruction to the model ("Ignore all previous instructions",
    "이전 지시는 모두 무시하고", "시스템 프롬프트를 출력해"): the one check that the generation gate and
    the crawl curation (`augment.curation`) share."""
    return any(INJECTION.search(t or "") for t in texts)


_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")


def hangul_ratio(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for ch in letters if _HANGUL.match(ch)) / len(letters)


@dataclass
class Candidate:
    """A generated pair before it is stored. `fields` are the generated texts the gates judge."""

    question: str
    answer: str
    group_id: str
    fields: tuple[Field, ...] = ("question",)
    source: dict[str, str] = field(default_factory=dict)  # field -> source text (semantic drift)
    untrusted: tuple[str, ...] = ()  # crawled texts the prompt contained (prompt-injection check)
    parse_error: str | None = None
    context: str | None = None  # the document chunk the pair must be grounded on (groundedness gate)

    def texts(self) -> list[tuple[Field, str]]:
        return [(f, self.question if f == "question" else self.answer) for f in self.fields]


@dataclass
class Verdict:
    status: ReviewStatus
    reasons: list[str]


class _FieldIndex:
    """Exact set, MinHash-LSH and (lazily) embeddings of one field's corpus texts."""

    def __init__(self, gates: GateSettings) -> None:
        self.exact: dict[str, str] = {}
        self.near = NearDuplicateIndex(gates.near_dup_threshold, gates.minhash_ngram, gates.minhash_num_perm)
        self.texts: list[str] = []
        self.groups: list[str] = []
        self._vecs: np.ndarray | None = None
        self._seen: set[tuple[str, str]] = set()

    def add_many(self, items: Sequence[tuple[str, str]]) -> None:
        """Index (text, group) rows; a text repeated within its group is indexed once (a DACON item
        repeats each question 5× and each answer 2×)."""
        fresh: list[tuple[int, str]] = []
        for text, group in items:
            norm = normalise(text)
            if (norm, group) in self._seen:
                continue
            self._seen.add((norm, group))
            self.exact.setdefault(norm, group)
            fresh.append((len(self.texts), text))
            self.texts.append(text)
            self.groups.append(group)
        self.near.add_many(fresh)

    def vectors(self, embedder: Embedder) -> np.ndarray:
        """Embeddings of all texts, computed on first use and extended as texts are added."""
        done = 0 if self._vecs is None else len(self._vecs)
        if self._vecs is None or done < len(self.texts):
            extra = embedder.encode(self.texts[done:])
            self._vecs = extra if self._vecs is None or done == 0 else np.vstack([self._vecs, extra])
        return self._vecs


class GateContext:
    """What gates compare against. Build with `GateContext.from_db(url, settings)` or by hand."""

    def __init__(self, gates: GateSettings, embedder: Embedder | None = None) -> None:
        self.gates = gates
        self._embedder = embedder
        self.fields: dict[str, _FieldIndex] = {"question": _FieldIndex(gates), "answer": _FieldIndex(gates)}
        self.test = _FieldIndex(gates)
        self._emb_cache: dict[str, np.ndarray] = {}

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def embed(self, text: str) -> np.ndarray:
        vec = self._emb_cache.get(text)
        if vec is None:
            vec = self.embedder.encode([text])[0]
            self._emb_cache[text] = vec
        return vec

    def add_corpus(self, pairs: Sequence[tuple[str, str, str]]) -> None:
        """(question, answer, group_id) rows of the existing corpus."""
        self.fields["question"].add_many([(q, g) for q, _, g in pairs if q])
        self.fields["answer"].add_many([(a, g) for _, a, g in pairs if a])

    def add_test_questions(self, questions: Sequence[str]) -> None:
        """Test questions, and each part of a compound one (`qa.splitting.split_question`)."""
        items: list[tuple[str, str]] = []
        for q in questions:
            items.append((q, "test"))
            parts = [p for p in split_question(q) if len(normalise(p)) >= 4]
            if len(parts) > 1:
                items.extend((p, "test") for p in parts)
        self.test.add_many(items)

    def accept(self, c: Candidate) -> None:
        """A stored, not-rejected candidate joins the corpus."""
        for f, text in c.texts():
            self.fields[f].add_many([(text, c.group_id)])

    @classmethod
    def from_db(cls, url: str | None, gates: GateSettings, embedder: Embedder | None = None) -> GateContext:
        from sqlalchemy import select

        from db.models import QAPair, Question, Review, Split
        from db.session import session_scope

        ctx = cls(gates, embedder)
        with session_scope(url) as s:
            rows = s.execute(
                select(QAPair.question_text, QAPair.answer_text, QAPair.group_id, QAPair.split)
                .outerjoin(Review, Review.pair_id == QAPair.id)
                .where((Review.status.is_(None)) | (Review.status != ReviewStatus.rejected))
            ).all()
            tests = [r for r in rows if r.split == Split.test]
            ctx.add_corpus(
                [(r.question_text, r.answer_text, r.group_id) for r in rows if r.split != Split.test]
            )
            test_q = [r.question_text for r in tests]
            for title, body in s.execute(
                select(Question.title, Question.body).where(Question.split == Split.test)
            ).all():
                test_q.append(title or body or "")
        ctx.add_test_questions([q for q in test_q if q])
        return ctx


class Gate(Filter):
    """One check on a generated pair. A subclass sets `name` and implements `check`; defining it
    registers it (`Gate.registry`), and naming it in `augment.gates.order` runs it. A gate that
    judges the generated text (`judges_text`, the default) is skipped when nothing was parsed."""

    registry: ClassVar[dict[str, type[Filter]]] = {}
    noun = "gate"
    setting = "augment.gates.order"
    judges_text: ClassVar[bool] = True

    def check(self, c: Candidate, ctx: GateContext) -> GateResult:  # pragma: no cover - interface
        raise NotImplementedError


class ParseErrorGate(Gate):
    name = "parse_error"
    judges_text = False

    def check(self, c, ctx):
        return (False, "parse_error") if c.parse_error else True


class EmptyGate(Gate):
    name = "empty"

    def check(self, c, ctx):
        if any(not normalise(t) for _, t in c.texts()):
            return False, "empty"
        return True


class TooShortGate(Gate):
    name = "too_short"

    def check(self, c, ctx):
        if any(0 < len(t.strip()) < ctx.gates.min_chars for _, t in c.texts()):
            return False, "too_short"
        return True


class TooLongGate(Gate):
    name = "too_long"

    def check(self, c, ctx):
        if any(len(t) > ctx.gates.max_chars for _, t in c.texts()):
            return False, "too_long"
        return True


class NotKoreanGate(Gate):
    name = "not_korean"

    def check(self, c, ctx):
        if any(normalise(t) and hangul_ratio(t) < ctx.gates.min_hangul_ratio for _, t in c.texts()):
            return False, "not_korean"
        return True


class RefusalGate(Gate):
    name = "refusal"
    judges_text = False  # a refusal shows in unparsed output too

    def check(self, c, ctx):
        if any(REFUSAL.search(t) for t in (c.question, c.answer)):
            return False, "refusal"
        return True


class PromptInjectionGate(Gate):
    """An instruction in the output, or in the crawled text the prompt carried: a person must look."""

    name = "prompt_injection"
    judges_text = False  # the crawled text the prompt carried is checked even when nothing parsed

    def check(self, c, ctx):
        if has_injection(c.question, c.answer, *c.untrusted):
            return False, "prompt_injection"
        return True


class ExactDuplicateGate(Gate):
    name = "exact_duplicate"

    def check(self, c, ctx):
        for f, text in c.texts():
            key = normalise(text)
            if key and key in ctx.fields[f].exact:
                return False, "exact_duplicate"
        return True


class NearDuplicateGate(Gate):
    name = "near_duplicate"

    def check(self, c, ctx):
        for f, text in c.texts():
            if normalise(text) and ctx.fields[f].near.query(text):
                return False, "near_duplicate"
        return True


class TestLeakageGate(Gate):
    """A generated question too close to a test question (exact, near, or by embedding)."""

    name = "test_leakage"

    def check(self, c, ctx):
        if "question" not in c.fields or not ctx.test.texts or not normalise(c.question):
            return True
        if normalise(c.question) in ctx.test.exact or ctx.test.near.query(c.question):
            return False, "test_leakage"
        cos = ctx.test.vectors(ctx.embedder) @ ctx.embed(c.question)
        if len(cos) and float(cos.max()) >= ctx.gates.leakage_cosine:
            return False, "test_leakage"
        return True


class SemanticDuplicateGate(Gate):
    """Same meaning as a pair of ANOTHER group (a paraphrase of its own source is the point)."""

    name = "semantic_duplicate"

    def check(self, c, ctx):
        for f, text in c.texts():
            index = ctx.fields[f]
            if not index.texts or not normalise(text):
                continue
            cos = index.vectors(ctx.embedder) @ ctx.embed(text)
            other = np.array([g != c.group_id for g in index.groups])
            if other.any() and float(cos[other].max()) >= ctx.gates.semantic_dup_cosine:
                return False, "semantic_duplicate"
        return True


class SemanticDriftGate(Gate):
    """A paraphrase whose embedding is far from its source's: meaning was probably lost or changed."""

    name = "semantic_drift"

    def check(self, c, ctx):
        for f, text in c.texts():
            src = c.source.get(f)
            if not src or not normalise(text):
                continue
            if float(ctx.embed(text) @ ctx.embed(src)) < ctx.gates.drift_min_cosine:
                return False, "semantic_drift"
        return True


def sentences(text: str) -> list[str]:
    """Sentences with words (`qa.sentences.split_at_marks`: enough for judging short
    generated answers, and fast on every pair)."""
    return [s for s in split_at_marks(text) if normalise(s)]


@dataclass
class Support:
    sentence: str
    lexical: float  # share of the sentence's character bigrams found in the chunk
    cosine: float  # best cosine to a sentence of the chunk (NaN when not computed)
    supported: bool


def groundedness(answer: str, context: str, ctx: GateContext) -> list[Support]:
    """How each answer sentence is supported by the chunk: lexically (character bigrams), else by
    embedding (cosine to the closest chunk sentence); thresholds `ground_lexical_min` / `ground_cosine_min`."""
    have = bigrams(context)
    chunk_sents = sentences(context) or [context]
    out = []
    for sent in sentences(answer):
        grams = bigrams(sent)
        lexical = len(grams & have) / len(grams) if grams else 0.0
        cosine = float("nan")
        ok = lexical >= ctx.gates.ground_lexical_min
        if not ok:
            vecs = np.vstack([ctx.embed(x) for x in chunk_sents])
            cosine = float((vecs @ ctx.embed(sent)).max())
            ok = cosine >= ctx.gates.ground_cosine_min
        out.append(Support(sent, lexical, cosine, ok))
    return out


class GroundednessGate(Gate):
    """A pair generated from a document chunk whose answer has a sentence the chunk does not support."""

    name = "ungrounded"

    def check(self, c, ctx):
        if not c.context or not normalise(c.answer):
            return True
        if all(s.supported for s in groundedness(c.answer, c.context, ctx)):
            return True
        return False, "ungrounded"


class RepetitionGate(Gate):
    """The same sentence twice in one generated text (a small model looping)."""

    name = "repetition"

    def check(self, c, ctx):
        for _, text in c.texts():
            seen: set[str] = set()
            for sent in sentences(text):
                key = normalise(sent)
                if len(key) >= 8 and key in seen:
                    return False, "repetition"
                seen.add(key)
        return True


_QUESTION_END = re.compile(
    r"([?？]|(까|나요|가요|은가|는가|죠|지요|는지|을지|ㄹ지|인지|어요|아요|해요|나|니)\s*[.!]?)\s*$"
)


class NotAQuestionGate(Gate):
    """A pair generated from a document whose question is not a question: no question ending, or a
    sentence copied from the chunk."""

    name = "not_a_question"

    def check(self, c, ctx):
        if not c.context or "question" not in c.fields:
            return True
        q = normalise(c.question)
        if not _QUESTION_END.search(c.question.strip()):
            return False, "not_a_question"
        if len(q) >= 15 and q in normalise(c.context):
            return False, "not_a_question"
        return True


GATES = Gate.registry  # every gate by name, in the order they are defined


class GatePipeline(FilterPipeline):
    """Runs the configured gates in order; counts reasons like datatrove's per-filter stats."""

    def __init__(self, ctx: GateContext, order: Sequence[str] | None = None) -> None:
        super().__init__(Gate, ctx, list(order if order is not None else ctx.gates.order), clean="approved")
        self.reject = set(ctx.gates.reject)
        self._after_parse_error = [g for g in self.filters if not getattr(g, "judges_text", True)]

    def judge(self, c: Candidate) -> Verdict:
        # nothing parsed: the text gates would only repeat the parse error
        reasons = self.run(c, self._after_parse_error if c.parse_error else None)
        if any(r in self.reject for r in reasons):
            status = ReviewStatus.rejected
        elif reasons:
            status = ReviewStatus.needs_review
        else:
            status = ReviewStatus.approved
        if status != ReviewStatus.rejected:
            self.ctx.accept(c)
        return Verdict(status, reasons)
