"""What every operation shares: the selection of input pairs, the work item, the derived candidate
and the `Operation` base class (items → request → parse → derive). The runner
(`augment/runner.py`) drives an operation; this module never touches a job."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from augment.client import ChatRequest
from augment.dedup import normalise
from augment.gates import Candidate
from augment.parsing import ParseError, parse_output
from augment.schemas import OUTPUT_MODELS
from augment.templates import PromptTemplate, load_template
from db.models import Origin, QAPair, Question, Review, ReviewStatus, Source, Split
from foundation.errors import InputError
from foundation.settings import Settings

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


# ----------------------------------------------------------------------------- the base class


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
