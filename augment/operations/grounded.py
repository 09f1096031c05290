"""Grounded generation: `seeded` (new pairs for glossary keywords, grounded on retrieved existing
pairs) and `from-docs` (pairs grounded on one reference-document chunk each)."""

from __future__ import annotations

import unicodedata

from sqlalchemy import select

from augment.client import ChatRequest
from augment.dedup import bigrams, normalise
from augment.gates import Candidate
from augment.operations.base import (
    RAW_KEEP,
    Derived,
    Operation,
    PairRow,
    Selection,
    WorkItem,
    select_pairs,
)
from augment.parsing import ParseError
from augment.schemas import SeededPair, SeededPairs
from augment.templates import load_glossary
from db.models import Keyword, PairKeyword
from foundation.errors import InputError


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
