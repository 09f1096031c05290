"""The augmentation operations and the runner that drives them through client, cache and gates.

Operations (each a small class; `OPERATIONS` maps CLI names to them):
- `paraphrase-questions`: formal and colloquial rewrites of each question (like 질문_1 / 질문_2);
- `paraphrase-answers`: rewrites of each answer that keep every fact (like 답변_1 … 답변_5);
- `keywords`: domain keywords per pair into `keywords` / `pair_keywords`;
- `seeded`: new pairs for glossary keywords, grounded on retrieved existing pairs;
- `compound`: two pairs joined with 또한, / 그리고 and their answers concatenated (no LLM).

One work item = one source pair (or one glossary keyword) = at most one LLM call. An item's
results (generation row, derived pairs, their reviews, job progress) are written in ONE
transaction, so a job killed at any moment resumes with no duplicate and no lost row: a finished
item is recognised by its generation row (operation, item, cache key) and skipped, and a call
that finished but was not yet stored comes back from `llm_cache` without a request.
"""

from __future__ import annotations

import asyncio
import random
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from augment.client import ChatRequest, Completion, LLMClient
from augment.dedup import bigrams, normalise
from augment.gates import Candidate, GateContext, GatePipeline
from augment.jobs import finish_job, require_schema, start_job
from augment.parsing import ParseError, parse_output
from augment.review import machine_review
from augment.schemas import (
    OUTPUT_MODELS,
    AnswerParaphrases,
    Keywords,
    QuestionParaphrases,
    SeededPair,
    SeededPairs,
)
from augment.templates import PromptTemplate, load_glossary, load_template
from db.models import (
    AugmentJob,
    Generation,
    Keyword,
    Origin,
    PairKeyword,
    QAPair,
    Question,
    Review,
    ReviewStatus,
    RunStatus,
    Source,
    Split,
)
from db.session import session_scope
from foundation.errors import InputError
from foundation.settings import Settings, get_settings

RAW_KEEP = 4000  # characters of unparseable output kept on a rejected pair for the reviewer


@dataclass
class Selection:
    """Which existing pairs an operation reads. Augmented pairs, test pairs and rejected pairs are
    left out unless asked for."""

    source: str | None = None  # an origin (crawl, dacon, manual, augment) or a source name
    category: str | None = None
    status: str | None = None  # review status of the input pairs (pending = no review yet)
    limit: int | None = None
    keywords: list[str] | None = None  # `seeded`: glossary terms to use (default: the glossary)
    one_per_group: bool | None = None  # only the first input pair of each group (one per DACON item)
    document: int | None = None  # `from-docs`: only this document's chunks
    source_name: str | None = None  # a source by name only, never read as an origin ("dacon" is both)

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class PairRow:
    id: int
    question: str
    answer: str
    category: str | None
    group_id: str
    split: Split | None
    groups: tuple[str, ...] = ()  # every group the pair was built from, own group first

    def all_groups(self) -> tuple[str, ...]:
        return self.groups or (self.group_id,)


@dataclass
class WorkItem:
    item_id: str
    pairs: list[PairRow]
    request: ChatRequest | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Derived:
    candidate: Candidate
    parent: PairRow | None  # None: generated from a document chunk, not from a pair
    tag: str  # e.g. "formal:0", part of the derived pair's key
    sources: tuple[PairRow, ...] = ()  # every pair the text was built from (default: the parent)
    chunk_id: int | None = None  # the document chunk the pair is grounded on

    def source_groups(self) -> list[str]:
        """The derived pair's groups: its own first, then every group of every source pair."""
        rows = self.sources or ((self.parent,) if self.parent is not None else ())
        return list(dict.fromkeys([self.candidate.group_id, *(g for r in rows for g in r.all_groups())]))


@dataclass
class JobSummary:
    job_id: int
    operation: str
    total: int
    already_done: int = 0
    processed: int = 0
    errors: int = 0
    calls: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    first_error: str | None = None  # "reason: detail" of the first item that failed

    @property
    def all_failed(self) -> bool:
        """Items were tried and none succeeded (the job is `failed`; the CLI exits 1)."""
        return self.errors > 0 and self.processed == 0


def select_pairs(session: Session, sel: Selection) -> list[PairRow]:
    """Input pairs for `sel`, in id order."""
    q = select(QAPair).outerjoin(Review, Review.pair_id == QAPair.id)
    q = q.where((QAPair.split.is_(None)) | (QAPair.split != Split.test))
    if sel.source:
        if sel.source in {o.value for o in Origin}:
            q = q.where(QAPair.origin == Origin(sel.source))
        else:
            known = session.scalar(select(Source.id).where(Source.name == sel.source))
            if known is None:
                names = ", ".join(session.scalars(select(Source.name)))
                raise InputError(
                    f"--source {sel.source!r} is neither an origin ({', '.join(o.value for o in Origin)}) "
                    f"nor a known source ({names or 'none imported yet'})"
                )
            q = q.join(Question, Question.id == QAPair.question_id).where(Question.source_id == known)
    else:
        q = q.where(QAPair.origin != Origin.augment)
    if sel.source_name:
        known = session.scalar(select(Source.id).where(Source.name == sel.source_name))
        if known is None:
            raise InputError(f"source {sel.source_name!r} is not imported")
        # crawled pairs hang off their source's questions; DACON rows carry it in their group id
        q = q.where(
            QAPair.question_id.in_(select(Question.id).where(Question.source_id == known))
            | QAPair.group_id.startswith(f"{sel.source_name}:", autoescape=True)
        )
    if sel.category:
        q = q.where(QAPair.category == sel.category)
    if sel.status:
        try:
            status = ReviewStatus(sel.status)
        except ValueError as exc:
            raise InputError(
                f"--status {sel.status!r}: use one of {', '.join(s.value for s in ReviewStatus)}"
            ) from exc
        if status == ReviewStatus.pending:
            q = q.where((Review.status.is_(None)) | (Review.status == status))
        else:
            q = q.where(Review.status == status)
    else:
        q = q.where((Review.status.is_(None)) | (Review.status != ReviewStatus.rejected))
    q = q.order_by(QAPair.id)
    if sel.limit is not None:
        q = q.limit(sel.limit)
    return [
        PairRow(p.id, p.question_text, p.answer_text, p.category, p.group_id, p.split, tuple(p.groups))
        for p in session.scalars(q)
    ]


# ----------------------------------------------------------------------------- operations


class Operation:
    name: ClassVar[str]
    template_name: ClassVar[str | None] = None
    uses_llm: ClassVar[bool] = True
    makes_pairs: ClassVar[bool] = True
    #: completion mode: what the few-shot examples pair up within one approved group ("question": two
    #: phrasings of its question, "answer": two of its answers); None: the template's own examples
    example_field: ClassVar[str | None] = None
    SHOTS: ClassVar[int] = 3

    def __init__(self, settings: Settings, mode: str = "chat") -> None:
        self.settings = settings
        self.mode = mode  # "chat" or "completion" (resolved `llm.mode`)
        self.template: PromptTemplate | None = (
            load_template(self.template_name) if self.template_name else None
        )
        self._shots: dict[str | None, list[tuple[str, dict[str, str]]]] = {}

    @property
    def completion(self) -> bool:
        return self.mode == "completion"

    def prepare(self, session: Session) -> None:
        """Completion mode: the few-shot pool, per category, from approved (non-augment, non-test)
        pairs whose group has two different phrasings of `example_field`."""
        if not self.completion or self.example_field is None:
            return
        groups: dict[str, dict[str, Any]] = {}
        rows = select_pairs(session, Selection(status="approved"))
        for p in rows:
            g = groups.setdefault(p.group_id, {"category": p.category, "texts": {}, "question": p.question})
            text = getattr(p, self.example_field)
            g["texts"].setdefault(normalise(text), text)
        for gid, g in sorted(groups.items()):
            texts = list(g["texts"].values())
            if len(texts) < 2:
                continue
            ex = {"source": texts[0], "target": texts[1], "question": g["question"]}
            self._shots.setdefault(g["category"], []).append((gid, ex))

    def shots(self, pair: PairRow) -> list[dict[str, str]]:
        """Up to SHOTS examples for `pair`: approved items of its category (never its own groups),
        picked by a seeded draw, then the template's written examples."""
        own = set(pair.all_groups())
        pool = [ex for gid, ex in self._shots.get(pair.category, []) if gid not in own]
        rng = random.Random(f"{self.settings.seed}:{pair.id}")
        picked = rng.sample(pool, min(self.SHOTS, len(pool)))
        assert self.template is not None and self.template.completion is not None
        names = self.completion_fields
        for values in self.template.completion.examples:
            if len(picked) >= self.SHOTS:
                break
            picked.append(dict(zip(names, values, strict=False)))
        return picked

    #: names of the template's written example values, in order
    completion_fields: ClassVar[tuple[str, ...]] = ("source", "target")

    def completion_request(self, pair: PairRow | None, **values: Any) -> ChatRequest:
        tmpl = self.template.completion if self.template else None
        if tmpl is None:
            raise InputError(
                f"`{self.name}` has no completion prompt; run it against an instruction-tuned model "
                "with DOBAE_LLM__MODE=chat"
            )
        shots = (
            self.shots(pair)
            if pair is not None
            else [dict(zip(self.completion_fields, ex, strict=False)) for ex in tmpl.examples]
        )
        prompt = tmpl.render(shots, **values)
        return ChatRequest([], self.output, max_tokens=tmpl.max_tokens, prompt=prompt, stop=tmpl.stop)

    def parse(self, content: str | None) -> Any:
        """The output model from a completion's text (JSON in chat mode, plain text otherwise)."""
        if not self.completion:
            return parse_output(content, self.output)
        text = " ".join((content or "").split())
        if not text:
            raise ParseError("empty", "the model wrote nothing before the stop sequence")
        return self.parse_text(text)

    def parse_text(self, text: str) -> Any:  # pragma: no cover - operations with a completion prompt
        raise NotImplementedError

    @property
    def output(self) -> type[BaseModel]:
        assert self.template is not None
        return OUTPUT_MODELS[self.template.output]

    #: which text of a pair the operation rewrites: pairs of one group sharing it make one item
    #: (a DACON item is 2 questions × 5 answers = 10 pairs; its question is paraphrased once, not 5×)
    distinct_by: ClassVar[str | None] = None

    def items(self, session: Session, sel: Selection) -> list[WorkItem]:
        self.prepare(session)
        whole = self.distinct_by or sel.one_per_group
        pairs = select_pairs(session, replace(sel, limit=None) if whole else sel)
        if sel.one_per_group:
            firsts: dict[str, PairRow] = {}
            for p in pairs:
                firsts.setdefault(p.group_id, p)
            pairs = list(firsts.values())
            if not self.distinct_by and sel.limit is not None:
                pairs = pairs[: sel.limit]
        if self.distinct_by:
            seen: set[tuple[str, str]] = set()
            unique = []
            for p in pairs:
                k = (p.group_id, normalise(getattr(p, self.distinct_by)))
                if k not in seen:
                    seen.add(k)
                    unique.append(p)
            pairs = unique[: sel.limit] if sel.limit is not None else unique
        return [self.item_for(p) for p in pairs]

    def item_for(self, pair: PairRow) -> WorkItem:
        raise NotImplementedError

    def derive(self, item: WorkItem, parsed: Any) -> list[Derived]:
        raise NotImplementedError

    def on_parse_error(self, item: WorkItem, raw: str, error: str) -> list[Derived]:
        """Unparseable output still becomes a (rejected) pair, so a reviewer sees what came back."""
        p = item.pairs[0]
        c = Candidate(
            question=raw[:RAW_KEEP],
            answer=p.answer,
            group_id=p.group_id,
            parse_error=error,
            untrusted=(p.question, p.answer),
        )
        return [Derived(c, p, "parse_error")]


class ParaphraseQuestions(Operation):
    name = "paraphrase-questions"
    template_name = "question_paraphrase"
    distinct_by = "question"

    example_field = "question"

    def item_for(self, pair: PairRow) -> WorkItem:
        if self.completion:
            return WorkItem(f"pair:{pair.id}", [pair], self.completion_request(pair, source=pair.question))
        n = self.settings.augment.question_paraphrases
        msgs = self.template.render(question=pair.question, n=n)
        return WorkItem(f"pair:{pair.id}", [pair], ChatRequest(msgs, self.output))

    def parse_text(self, text):
        return QuestionParaphrases.model_construct(formal=[text], colloquial=[])

    def derive(self, item, parsed):
        p = item.pairs[0]
        n = self.settings.augment.question_paraphrases
        out = []
        for register in ("formal", "colloquial"):
            for i, text in enumerate(getattr(parsed, register)[:n]):
                c = Candidate(
                    question=text,
                    answer=p.answer,
                    group_id=p.group_id,
                    fields=("question",),
                    source={"question": p.question},
                    untrusted=(p.question, p.answer),
                )
                out.append(Derived(c, p, f"{register}:{i}"))
        return out


class ParaphraseAnswers(Operation):
    name = "paraphrase-answers"
    template_name = "answer_paraphrase"
    distinct_by = "answer"

    example_field = "answer"
    completion_fields = ("question", "source", "target")

    def item_for(self, pair: PairRow) -> WorkItem:
        if self.completion:
            req = self.completion_request(pair, question=pair.question, source=pair.answer)
            return WorkItem(f"pair:{pair.id}", [pair], req)
        n = self.settings.augment.answer_paraphrases
        msgs = self.template.render(question=pair.question, answer=pair.answer, n=n)
        return WorkItem(f"pair:{pair.id}", [pair], ChatRequest(msgs, self.output))

    def parse_text(self, text):
        return AnswerParaphrases.model_construct(answers=[text])

    def derive(self, item, parsed):
        p = item.pairs[0]
        return [
            Derived(
                Candidate(
                    question=p.question,
                    answer=text,
                    group_id=p.group_id,
                    fields=("answer",),
                    source={"answer": p.answer},
                    untrusted=(p.question, p.answer),
                ),
                p,
                f"answer:{i}",
            )
            for i, text in enumerate(parsed.answers[: self.settings.augment.answer_paraphrases])
        ]

    def on_parse_error(self, item, raw, error):
        p = item.pairs[0]
        c = Candidate(
            question=p.question,
            answer=raw[:RAW_KEEP],
            group_id=p.group_id,
            fields=("answer",),
            parse_error=error,
            untrusted=(p.question, p.answer),
        )
        return [Derived(c, p, "parse_error")]


class ExtractKeywords(Operation):
    name = "keywords"
    template_name = "keywords"
    makes_pairs = False

    completion_fields = ("question", "answer", "target")

    def item_for(self, pair: PairRow) -> WorkItem:
        if self.completion:
            req = self.completion_request(pair, question=pair.question, answer=pair.answer)
            return WorkItem(f"pair:{pair.id}", [pair], req)
        msgs = self.template.render(
            question=pair.question, answer=pair.answer, n=self.settings.augment.keywords_per_pair
        )
        return WorkItem(f"pair:{pair.id}", [pair], ChatRequest(msgs, self.output))

    def parse_text(self, text):
        words = [w.strip(" .\"'") for w in re.split(r"[,，、/·]", text)]
        return Keywords.model_construct(keywords=[w for w in words if w])


class SeededGeneration(Operation):
    """New pairs for a glossary keyword, grounded on retrieved existing pairs (shown as untrusted
    reference material; the near/exact-duplicate gates catch copies of them)."""

    name = "seeded"
    template_name = "seeded"

    def items(self, session, sel):
        terms = [unicodedata.normalize("NFC", k) for k in (sel.keywords or load_glossary())]
        if sel.limit is not None:
            terms = terms[: sel.limit]
        pool = select_pairs(session, Selection(sel.source, sel.category, sel.status, None))
        if not pool:
            raise InputError(
                "seeded generation needs existing pairs to ground on; import some first (dobae import …)"
            )
        linked: dict[str, set[int]] = {}
        for kw, pid in session.execute(
            select(Keyword.keyword, PairKeyword.pair_id).join(
                PairKeyword, PairKeyword.keyword_id == Keyword.id
            )
        ):
            linked.setdefault(kw, set()).add(pid)
        k = self.settings.augment.seeded_context_pairs
        items = []
        for term in terms:
            context = self.retrieve(term, pool, linked.get(term, set()), k)
            msgs = self.template.render(
                keyword=term,
                n=self.settings.augment.seeded_per_keyword,
                context=[(p.question, p.answer) for p in context],
            )
            items.append(
                WorkItem(f"keyword:{term}", context, ChatRequest(msgs, self.output), {"keyword": term})
            )
        return items

    @staticmethod
    def retrieve(term: str, pool: list[PairRow], linked: set[int], k: int) -> list[PairRow]:
        """Pairs tagged with the keyword first, then pairs that mention it most, then by character
        bigram overlap with the keyword; ties by id."""
        t = normalise(term)
        grams = bigrams(term)

        def score(p: PairRow) -> tuple:
            text = normalise(p.question + p.answer)
            overlap = len(grams & bigrams(p.question)) / max(1, len(grams))
            return (p.id in linked, text.count(t) if t else 0, overlap, -p.id)

        return sorted(pool, key=score, reverse=True)[:k]

    def derive(self, item, parsed):
        top = item.pairs[0]
        untrusted = tuple(x for p in item.pairs for x in (p.question, p.answer))
        return [
            Derived(
                Candidate(
                    question=sp.question,
                    answer=sp.answer,
                    group_id=top.group_id,
                    fields=("question", "answer"),
                    untrusted=untrusted,
                ),
                top,
                f"seed:{i}",
                tuple(item.pairs),
            )
            for i, sp in enumerate(parsed.pairs[: self.settings.augment.seeded_per_keyword])
        ]

    def on_parse_error(self, item, raw, error):
        top = item.pairs[0]
        c = Candidate(
            question=f"[{item.extra['keyword']}] 생성 실패",
            answer=raw[:RAW_KEEP],
            group_id=top.group_id,
            fields=("question", "answer"),
            parse_error=error,
        )
        return [Derived(c, top, "parse_error", tuple(item.pairs))]


class FromDocs(Operation):
    """Q&A pairs grounded on one document chunk each (`dobae docs add` first). Each pair links to its
    chunk (`qa_pairs.chunk_id`) and the groundedness gate checks every answer sentence against it.
    Chat mode asks for `docs.pairs_per_chunk` pairs as JSON; completion mode writes one pair after
    few-shot examples. Pairs of one chunk share the group `doc:<document sha256[:12]>:<seq>`."""

    name = "from-docs"
    template_name = "from_docs"
    completion_fields = ("context", "question", "answer")

    def items(self, session, sel):
        from db.models import DocChunk, Document

        q = select(DocChunk, Document.sha256).join(Document, Document.id == DocChunk.document_id)
        if sel.document is not None:
            q = q.where(DocChunk.document_id == sel.document)
        q = q.order_by(DocChunk.document_id, DocChunk.seq)
        if sel.limit is not None:
            q = q.limit(sel.limit)
        rows = session.execute(q).all()
        if not rows and sel.document is not None:
            known = session.scalars(select(Document.id).order_by(Document.id)).all()
            if sel.document in known:
                raise InputError(f"--document {sel.document}: the document has no text chunks to ground on")
            if known:
                shown = ", ".join(map(str, known[:20])) + (
                    f", … ({len(known)} in all)" if len(known) > 20 else ""
                )
                raise InputError(
                    f"--document {sel.document}: no document with that id; the documents are {shown} "
                    "(see `dobae docs list`)"
                )
        if not rows:
            raise InputError("no document chunks: add documents first (`dobae docs add --reference`)")
        items = []
        for chunk, sha in rows:
            extra = {"chunk_id": chunk.id, "context": chunk.text, "group": f"doc:{sha[:12]}:{chunk.seq}"}
            if self.completion:
                req = self.completion_request(None, context=chunk.text)
            else:
                n = self.settings.augment.docs.pairs_per_chunk
                req = ChatRequest(self.template.render(context=chunk.text, n=n), self.output)
            items.append(WorkItem(f"chunk:{chunk.id}", [], req, extra))
        return items

    def parse_text(self, text):
        question, sep, answer = text.partition("답변:")
        question, answer = question.strip(), answer.strip()
        if not sep or not question or not answer:
            raise ParseError("no_pair", f"expected 'question 답변: answer', got {text[:200]!r}")
        return SeededPairs.model_construct(
            pairs=[SeededPair.model_construct(question=question, answer=answer)]
        )

    def derive(self, item, parsed):
        ctx = item.extra["context"]
        return [
            Derived(
                Candidate(
                    question=sp.question,
                    answer=sp.answer,
                    group_id=item.extra["group"],
                    fields=("question", "answer"),
                    untrusted=(ctx,),
                    context=ctx,
                ),
                None,
                f"doc:{i}",
                chunk_id=item.extra["chunk_id"],
            )
            for i, sp in enumerate(parsed.pairs[: self.settings.augment.docs.pairs_per_chunk])
        ]

    def on_parse_error(self, item, raw, error):
        c = Candidate(
            question=f"[chunk {item.extra['chunk_id']}] 생성 실패",
            answer=raw[:RAW_KEEP] or "(빈 출력)",
            group_id=item.extra["group"],
            fields=("question", "answer"),
            parse_error=error,
            context=item.extra["context"],
        )
        return [Derived(c, None, "parse_error", chunk_id=item.extra["chunk_id"])]


_END = re.compile(r"[?？.!。]\s*$")


def join_compound(q1: str, q2: str, joiner: str) -> str:
    """`q1` and `q2` as one test-style question: "…나요? 또한, …" / "…주세요. 그리고 …"."""
    q1, q2 = q1.strip(), q2.strip()
    if not _END.search(q1):
        q1 += "?"
    return f"{q1} {joiner} {q2}"


class CompoundQuestions(Operation):
    """Two pairs of different groups (same category when possible) joined like DACON's test
    questions; the answer is both answers in order. Rule-based: no LLM, deterministic by seed.

    The pair keeps the first pair's group and parent; `source_groups` holds both pairs' groups
    (grouped splits hold it out with either), and the generation's params the partner's id and
    group (`partner_id`, `partner_group`)."""

    name = "compound"
    uses_llm = False
    JOINERS = ("또한,", "그리고")

    def items(self, session, sel):
        pairs = select_pairs(session, sel)
        pool = select_pairs(session, Selection(sel.source, None, sel.status, None))
        rng = random.Random(self.settings.seed)
        by_cat: dict[str | None, list[PairRow]] = {}
        for p in pool:
            by_cat.setdefault(p.category, []).append(p)
        items = []
        for p in pairs:
            for k in range(self.settings.augment.compound_per_pair):
                mine = set(p.all_groups())
                same = [x for x in by_cat.get(p.category, []) if mine.isdisjoint(x.all_groups())]
                others = same or [x for x in pool if mine.isdisjoint(x.all_groups())]
                if not others:
                    continue
                partner = others[rng.randrange(len(others))]
                joiner = self.JOINERS[rng.randrange(len(self.JOINERS))]
                items.append(WorkItem(f"pair:{p.id}:{k}", [p, partner], None, {"joiner": joiner}))
        return items

    def derive(self, item, parsed):
        a, b = item.pairs
        c = Candidate(
            question=join_compound(a.question, b.question, item.extra["joiner"]),
            answer=f"{a.answer.strip()} {b.answer.strip()}",
            group_id=a.group_id,
            fields=("question",),
            untrusted=(a.question, a.answer, b.question, b.answer),
        )
        return [Derived(c, a, f"compound:{b.id}", (a, b))]


OPERATIONS: dict[str, type[Operation]] = {
    op.name: op
    for op in (
        ParaphraseQuestions,
        ParaphraseAnswers,
        ExtractKeywords,
        SeededGeneration,
        CompoundQuestions,
        FromDocs,
    )
}


def get_operation(name: str, settings: Settings, mode: str = "chat") -> Operation:
    if name not in OPERATIONS:
        raise InputError(f"unknown operation {name!r}; use one of {', '.join(OPERATIONS)}")
    return OPERATIONS[name](settings, mode)


# ----------------------------------------------------------------------------- runner


class Runner:
    """Runs one operation over its work items: skip done, call (cached), parse, gate, store."""

    def __init__(
        self, op: Operation, sel: Selection, url: str | None, settings: Settings, *, offline: bool
    ) -> None:
        self.op, self.sel, self.url, self.settings, self.offline = op, sel, url, settings, offline
        self.pipeline: GatePipeline | None = None
        self.summary: JobSummary | None = None
        self.model = "rule:" + op.name
        self.client: LLMClient | None = None
        self._bar = None

    def job_params(self) -> dict[str, Any]:
        return {"selection": self.sel.params()}

    def _done_items(self) -> set[tuple[str, str | None]]:
        with session_scope(self.url) as s:
            rows = s.execute(
                select(Generation.params, Generation.cache_key).where(
                    Generation.operation == self.op.name, Generation.status != "error"
                )
            ).all()
        return {((params or {}).get("item"), key) for params, key in rows}

    def _pipeline(self) -> GatePipeline:
        if self.pipeline is None:
            ctx = GateContext.from_db(self.url, self.settings.augment.gates)
            self.pipeline = GatePipeline(ctx)
        return self.pipeline

    async def run(self, progress: bool = False) -> JobSummary:
        require_schema(self.url)
        if not self.op.uses_llm:
            return await self._run(None, progress)
        async with LLMClient(
            self.settings.llm, self.settings.augment, self._cache(), offline=self.offline
        ) as client:
            if self.op.template is not None and self.op.template.completion is not None:
                self.op.mode = client.mode
            return await self._run(client, progress)

    async def _run(self, client: LLMClient | None, progress: bool) -> JobSummary:
        with session_scope(self.url) as s:
            items = self.op.items(s, self.sel)
        job_id = start_job(self.url, self.op.name, self.job_params(), len(items))
        summary = self.summary = JobSummary(job_id, self.op.name, len(items))
        done = self._done_items()
        status = RunStatus.failed
        try:
            if client is not None:
                self.model, self.client = client.model, client
                keyed = [(it, client.key(it.request)) for it in items]
                todo = [(it, k) for it, k in keyed if (it.item_id, k) not in done]
                self._start(job_id, len(items) - len(todo), progress)
                for it, _ in todo:
                    it.request.meta.update(
                        {"operation": self.op.name, "item": it.item_id, "job": self.job_params()}
                    )
                by_item = {it.item_id: it for it, _ in todo}
                await client.complete_many(
                    [it.request for it, _ in todo],
                    on_done=lambda c: self.store(by_item[c.request.meta["item"]], c),
                )
                st = client.stats
                summary.calls, summary.cache_hits = st.calls, st.cache_hits
            else:
                todo = [it for it in items if (it.item_id, None) not in done]
                self._start(job_id, len(items) - len(todo), progress)
                for it in todo:
                    self.store(it, None)
            status = RunStatus.finished if summary.errors == 0 else RunStatus.failed
        except (KeyboardInterrupt, asyncio.CancelledError):
            status = RunStatus.interrupted
            raise
        finally:
            if self._bar is not None:
                self._bar.stop()
            finish_job(self.url, job_id, status)
        if self.pipeline is not None:
            summary.reasons.update({k: v for k, v in self.pipeline.counts.items() if k != "approved"})
        return summary

    def _cache(self):
        from augment.cache import LLMCallCache

        return LLMCallCache(self.url)

    def _start(self, job_id: int, already: int, progress: bool) -> None:
        assert self.summary is not None
        self.summary.already_done = already
        with session_scope(self.url) as s:
            job = s.get(AugmentJob, job_id)
            job.done = already
            job.errors = 0
        if progress:
            from foundation.console import progress as make_progress

            self._bar = make_progress()
            self._bar.start()
            self._task = self._bar.add_task(self.op.name, total=self.summary.total, completed=already)

    def store(self, item: WorkItem, c: Completion | None) -> None:
        """Everything one item produced, in one transaction."""
        summary = self.summary
        assert summary is not None
        tmpl = self.op.template
        params: dict[str, Any] = {
            "item": item.item_id,
            **{k: v for k, v in item.extra.items() if k != "context"},
        }
        if c is not None:
            params["llm"] = self.client.params(c.request) if self.client is not None else {}
            params["seed"] = self.settings.llm.seed
            params["cached"] = c.cached
            params["attempts"] = c.attempts
            if c.finish_reason:
                params["finish_reason"] = c.finish_reason
        if len(item.pairs) > 1:
            params["source_pair_ids"] = [p.id for p in item.pairs]
        if isinstance(self.op, CompoundQuestions):
            params["partner_id"], params["partner_group"] = item.pairs[1].id, item.pairs[1].group_id
        with session_scope(self.url) as s:
            gen = Generation(
                job_id=summary.job_id,
                operation=self.op.name,
                model=self.model,
                template_name=tmpl.name if tmpl else self.op.name,
                template_version=tmpl.version if tmpl else "1",
                params=params,
                cache_key=c.key if c is not None and c.ok else None,
                tokens_in=c.tokens_in if c else None,
                tokens_out=c.tokens_out if c else None,
                latency_ms=c.latency_ms if c else None,
                raw_output=c.content if c else None,
            )
            s.add(gen)
            job = s.get(AugmentJob, summary.job_id)
            if c is not None and not c.ok:
                gen.status, gen.error = "error", f"{c.error}: {c.detail or ''}".strip()
                job.errors += 1
                summary.errors += 1
                summary.failures[c.error] += 1
                summary.first_error = summary.first_error or gen.error
                self._advance()
                return
            if c is not None:
                summary.tokens_in += c.tokens_in or 0
                summary.tokens_out += c.tokens_out or 0
            parsed = None
            if c is not None:
                try:
                    parsed = self.op.parse(c.content)
                except ParseError as exc:
                    gen.status, gen.error = "parse_error", str(exc)
                    summary.failures["parse_error"] += 1
            if isinstance(self.op, ExtractKeywords):
                self._store_keywords(s, gen, item.pairs[0], parsed, summary)
            else:
                if c is not None and parsed is None:
                    derived = self.op.on_parse_error(item, c.content or "", gen.error or "parse_error")
                else:
                    derived = self.op.derive(item, parsed)
                if not derived:
                    gen.status, gen.error = "empty", "the output held no usable text"
                    summary.failures["empty"] += 1
                s.flush()
                for d in derived:
                    self._store_pair(s, gen, d, c)
            job.done += 1
            summary.processed += 1
        self._advance()

    def _store_pair(self, s: Session, gen: Generation, d: Derived, c: Completion | None) -> None:
        from db.export import too_long_to_export

        why = too_long_to_export(d.candidate.question) or too_long_to_export(d.candidate.answer)
        if why:  # its export could not be imported back: named on the generation, not stored
            gen.status, gen.error = "too_long_to_store", f"a generated text of {why}: not stored"
            assert self.summary is not None
            self.summary.failures["too_long_to_store"] += 1
            return
        verdict = self._pipeline().judge(d.candidate)
        tail = c.key[:16] if c is not None else "rule"
        groups = d.source_groups()
        pair = QAPair(
            key=f"augment:{self.op.name}:{gen.params['item']}:{tail}:{d.tag}",
            question_text=unicodedata.normalize("NFC", d.candidate.question),
            answer_text=unicodedata.normalize("NFC", d.candidate.answer),
            category=d.parent.category if d.parent else None,
            origin=Origin.augment,
            group_id=d.candidate.group_id,
            source_groups=groups if len(groups) > 1 or d.parent is not None else None,
            parent_id=d.parent.id if d.parent else None,
            split=d.parent.split if d.parent else None,
            generation_id=gen.id,
            chunk_id=d.chunk_id,
        )
        s.add(pair)
        machine_review(s, pair, verdict.status, verdict.reasons)
        assert self.summary is not None
        self.summary.statuses[verdict.status.value] += 1

    def _store_keywords(
        self, s: Session, gen: Generation, pair: PairRow, parsed: Any, summary: JobSummary
    ) -> None:
        if parsed is None:
            return
        text = normalise(pair.question + " " + pair.answer)
        kept, dropped = [], []
        for kw in parsed.keywords[: self.settings.augment.keywords_per_pair]:
            kw = re.sub(r"\s+", " ", kw).strip()
            if normalise(kw) and normalise(kw) in text and len(kw) <= 100:
                if kw not in kept:
                    kept.append(kw)
            else:
                dropped.append(kw)
        gen.params = {**gen.params, "kept": kept, "dropped_not_in_text": dropped}
        if not kept:
            gen.status, gen.error = "empty", "no keyword occurs in the pair's text"
            summary.failures["no_keywords"] += 1
            return
        s.flush()
        for rank, kw in enumerate(kept):
            row = s.scalar(select(Keyword).where(Keyword.keyword == kw))
            if row is None:
                row = Keyword(keyword=kw)
                s.add(row)
                s.flush()
            if s.get(PairKeyword, (pair.id, row.id)) is None:
                s.add(
                    PairKeyword(
                        pair_id=pair.id, keyword_id=row.id, generation_id=gen.id, score=1.0 / (rank + 1)
                    )
                )
        summary.statuses["keywords"] += len(kept)

    def _advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)


def run_operation(
    name: str,
    selection: Selection | None = None,
    *,
    url: str | None = None,
    settings: Settings | None = None,
    offline: bool = False,
    progress: bool = False,
) -> JobSummary:
    """Run operation `name` over `selection` (Python entry point of `dobae augment NAME`)."""
    settings = settings or get_settings()
    url = url or settings.db_url
    op = get_operation(name, settings)
    return asyncio.run(Runner(op, selection or Selection(), url, settings, offline=offline).run(progress))
