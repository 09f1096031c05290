"""Reference documents → sentence-aligned, overlapping chunks in `documents` / `doc_chunks`: adding,
removing and listing them.

`add_documents(["guide.pdf", "https://…/page.html", "notes.md"])` reads each source (PDF through
pypdf, HTML through trafilatura, Markdown and plain text as UTF-8 with or without BOM), splits the
text into sentences with Kiwi (kiwipiepy, a Korean morphological analyser; paragraphs first, so a
heading never joins the next sentence), and cuts runs of whole sentences of at most
`docs.chunk_chars` characters that overlap their neighbour by at most `docs.overlap_chars`.
Each chunk keeps its character offsets into the stored text (`text[start:end] == chunk`) and, for
a PDF, the page it starts on. A document is unique by the sha256 of its bytes: re-adding an
unchanged file adds nothing; everything of one document is written in one transaction.

Reading a source is `augment.doc_reading`, the chunking `augment.doc_chunking`, the shipped
reference set `augment.reference_set`; their names are importable from here too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from augment.doc_chunking import (
    WINDOW_CHARS,
    Chunk,
    iter_sentence_spans,
    make_chunks,
    sentence_spans,
    windows,
)
from augment.doc_reading import KINDS, Extracted, clean_text, extract, read_source
from augment.reference_set import REFERENCE_DIR, find_hangul_font, reference_sources, write_reference_pdf
from foundation.errors import InputError

__all__ = [
    "KINDS",
    "REFERENCE_DIR",
    "WINDOW_CHARS",
    "AddSummary",
    "Chunk",
    "Extracted",
    "add_documents",
    "clean_text",
    "document_rows",
    "extract",
    "find_hangul_font",
    "iter_sentence_spans",
    "make_chunks",
    "read_source",
    "reference_sources",
    "remove_document",
    "sentence_spans",
    "windows",
    "write_reference_pdf",
]


@dataclass
class AddSummary:
    added: list[tuple[str, int, int]] = field(default_factory=list)  # (source, document id, chunks)
    unchanged: list[tuple[str, int]] = field(default_factory=list)  # (source, existing document id)
    replaced: list[tuple[str, int]] = field(default_factory=list)  # (source, the earlier document's id)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Prepared:
    source: str  # as stored and shown: a URL's password masked
    digest: str
    extracted: Extracted | None = None  # None: a document with these bytes exists
    chunks: list[Chunk] = field(default_factory=list)


def add_documents(
    sources: Sequence[str | Path], note: str | None = None, url: str | None = None, settings=None
) -> AddSummary:
    """Add each source (path or URL) with its chunks, all or nothing: every source is read and
    split first, so one bad file adds none (the error names it); then all are written in one
    transaction. Unchanged bytes (same sha256) are skipped; a source whose bytes changed replaces
    its earlier document (refused while generated pairs are grounded on that one)."""
    from db.migrate import ensure_schema
    from foundation.settings import get_settings

    settings = settings or get_settings()
    ensure_schema(url)
    docs = settings.augment.docs
    summary = AddSummary()
    prepared: list[_Prepared] = []
    for src in sources:
        try:
            _prepare(str(src), url, docs, prepared, summary)
        except InputError as exc:
            if len(sources) == 1:
                raise
            raise InputError(f"{exc}; nothing was added (all {len(sources)} sources or none)") from None
    clean_note = clean_text(note).strip() or None if note else None
    for attempt in range(2):  # a concurrent add of the same bytes: the second try finds its row
        try:
            return _write(url, prepared, clean_note, summary)
        except _Conflict:
            if attempt:
                raise InputError(
                    "docs add: another command added or changed the same documents at the same time; "
                    "nothing was added by this one: run it again"
                ) from None
            summary.added.clear(), summary.unchanged.clear(), summary.replaced.clear()
    raise AssertionError("unreachable")


def _prepare(source: str, url: str | None, docs, prepared: list[_Prepared], summary: AddSummary) -> None:
    """Read, extract and split one source (nothing written)."""
    from foundation.fetch import redact

    data, kind = read_source(source)
    item = _Prepared(redact(source), hashlib.sha256(data).hexdigest())
    prepared.append(item)
    if _existing_id(url, item.digest) is not None or any(p.digest == item.digest for p in prepared[:-1]):
        return
    ex = extract(data, kind, source)
    if not ex.text.strip():
        raise InputError(f"{item.source}: no text found in the {kind} document")
    item.extracted = ex
    item.chunks = make_chunks(ex.text, docs.chunk_chars, docs.overlap_chars, ex.page_starts, docs.max_chunks)
    if len(item.chunks) > docs.max_chunks:
        kept_to = item.chunks[docs.max_chunks - 1].end
        summary.warnings.append(
            f"{item.source}: more than DOBAE_AUGMENT__DOCS__MAX_CHUNKS={docs.max_chunks:,} chunks: only the "
            f"first {docs.max_chunks:,} are kept, the text up to character {kept_to:,} of {len(ex.text):,} "
            f"({kept_to / len(ex.text):.0%}); split the document or raise the limit"
        )
        item.chunks = item.chunks[: docs.max_chunks]


class _Conflict(Exception):
    """A unique constraint hit by a concurrent add (the whole transaction was rolled back)."""


def _existing_id(url: str | None, digest: str) -> int | None:
    from sqlalchemy import select

    from db.models import Document
    from db.session import session_scope

    with session_scope(url) as s:
        return s.scalar(select(Document.id).where(Document.sha256 == digest))


def _write(url: str | None, prepared: list[_Prepared], note: str | None, summary: AddSummary) -> AddSummary:
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm.exc import StaleDataError

    from db.models import DocChunk, Document
    from db.session import session_scope

    try:
        with session_scope(url) as s:
            seen: dict[str, int] = {}
            for item in prepared:
                existing = seen.get(item.digest) or _existing_in(s, item.digest)
                if existing is not None:
                    summary.unchanged.append((item.source, existing))
                    continue
                if item.extracted is None:  # existed while reading, removed since
                    raise InputError(f"docs add: {item.source} was removed while being added: run it again")
                for old in s.scalars(select(Document).where(Document.source == item.source)).all():
                    grounded = _grounded_pairs(s, old.id)
                    if grounded:
                        raise InputError(
                            f"docs add: {item.source} changed since document #{old.id}, which {grounded} generated "
                            f"pair(s) are grounded on; nothing was added: keep it, or `dobae docs remove {old.id} "
                            "--detach-pairs` first"
                        )
                    summary.replaced.append((item.source, old.id))
                    s.delete(old)
                s.flush()
                ex = item.extracted
                doc = Document(
                    sha256=item.digest,
                    source=item.source,
                    kind=ex.kind,
                    title=ex.title,
                    note=note,
                    text=ex.text,
                    pages=len(ex.page_starts) if ex.page_starts else None,
                )
                doc.chunks = [
                    DocChunk(seq=c.seq, page=c.page, start_char=c.start, end_char=c.end, text=c.text)
                    for c in item.chunks
                ]
                s.add(doc)
                s.flush()
                seen[item.digest] = doc.id
                summary.added.append((item.source, doc.id, len(item.chunks)))
    except (
        IntegrityError,
        StaleDataError,
    ) as exc:  # the same bytes added, or the old version removed, meanwhile
        raise _Conflict() from exc
    return summary


def _existing_in(s, digest: str) -> int | None:
    """The id of the document with these bytes, seen from session `s`."""
    from sqlalchemy import select

    from db.models import Document

    return s.scalar(select(Document.id).where(Document.sha256 == digest))


def _grounded_pairs(s, document_id: int) -> int:
    from sqlalchemy import func, select

    from db.models import DocChunk, QAPair

    return s.scalar(
        select(func.count())
        .select_from(QAPair)
        .join(DocChunk, QAPair.chunk_id == DocChunk.id)
        .where(DocChunk.document_id == document_id)
    )


def remove_document(
    document_id: int, detach_pairs: bool = False, url: str | None = None
) -> tuple[str, int, int]:
    """Delete a document and its chunks; returns (source, chunks, pairs detached). Generated pairs
    grounded on it are refused unless `detach_pairs` (they stay, with their reviews, without the
    link to the chunk)."""
    from sqlalchemy import func, select, update

    from db.migrate import ensure_schema
    from db.models import DocChunk, Document, QAPair
    from db.session import session_scope

    ensure_schema(url)
    with session_scope(url) as s:
        doc = s.get(Document, document_id)
        if doc is None:
            ids = s.scalars(select(Document.id).order_by(Document.id)).all()
            listed = ", ".join(f"#{i}" for i in ids[:20]) or "none"
            raise InputError(
                f"docs remove: no document #{document_id} (documents: {listed}; see `dobae docs list`)"
            )
        grounded = _grounded_pairs(s, document_id)
        if grounded and not detach_pairs:
            raise InputError(
                f"docs remove: document #{document_id} grounds {grounded} generated pair(s); nothing was removed: "
                "pass --detach-pairs to keep those pairs without the link to their chunk"
            )
        chunk_ids = select(DocChunk.id).where(DocChunk.document_id == document_id)
        if grounded:
            s.execute(update(QAPair).where(QAPair.chunk_id.in_(chunk_ids)).values(chunk_id=None))
        n = s.scalar(select(func.count()).select_from(DocChunk).where(DocChunk.document_id == document_id))
        source = doc.source
        s.delete(doc)
    return source, n, grounded


def document_rows(url: str | None = None) -> list[tuple]:
    """(id, kind, title, pages, chunks, grounded pairs, source) of every document."""
    from sqlalchemy import func, select

    from db.migrate import ensure_schema
    from db.models import DocChunk, Document, QAPair
    from db.session import session_scope

    ensure_schema(url)
    with session_scope(url) as s:
        chunks = dict(
            s.execute(select(DocChunk.document_id, func.count()).group_by(DocChunk.document_id)).all()
        )
        pairs = dict(
            s.execute(
                select(DocChunk.document_id, func.count())
                .join(QAPair, QAPair.chunk_id == DocChunk.id)
                .group_by(DocChunk.document_id)
            ).all()
        )
        docs = s.execute(
            select(Document.id, Document.kind, Document.title, Document.pages, Document.source).order_by(
                Document.id
            )
        ).all()
    return [(i, k, t, p, chunks.get(i, 0), pairs.get(i, 0), src) for i, k, t, p, src in docs]
