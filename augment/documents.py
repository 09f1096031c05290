"""Reference documents → sentence-aligned, overlapping chunks in `documents` / `doc_chunks`.

`add_documents(["guide.pdf", "https://…/page.html", "notes.md"])` reads each source (PDF through
pypdf, HTML through trafilatura, Markdown and plain text as UTF-8 with or without BOM), splits the
text into sentences with Kiwi (kiwipiepy, a Korean morphological analyser; paragraphs first, so a
heading never joins the next sentence), and cuts runs of whole sentences of at most
`docs.chunk_chars` characters that overlap their neighbour by at most `docs.overlap_chars`.
Each chunk keeps its character offsets into the stored text (`text[start:end] == chunk`) and, for
a PDF, the page it starts on. A document is unique by the sha256 of its bytes: re-adding an
unchanged file adds nothing; everything of one document is written in one transaction.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from foundation.errors import InputError
from qa.sentences import kiwi

KINDS = {
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
}
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
_PARAGRAPH = re.compile(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*")  # runs of non-blank lines
_MD_HEADING = re.compile(r"^#{1,6}\s+", re.M)
_MD_MARKUP = re.compile(r"(\*\*|__|`)")
_SPACES = re.compile(r"[ \t]{2,}")


@dataclass
class Extracted:
    kind: str
    title: str | None
    text: str
    page_starts: list[int] | None = None  # character offset where each page begins (PDF)


@dataclass
class Chunk:
    seq: int
    start: int
    end: int
    text: str
    page: int | None = None


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


_SIGN_IN = re.compile(r"(?i)(log-?in|sign-?in|sign_in|signin|/auth\b|/sso\b|/session)")


def read_source(source: str) -> tuple[bytes, str]:
    """The bytes of a path or http(s) URL and its kind (pdf, html, markdown, text).

    A URL is fetched within `fetch.*`'s size and time limits (foundation/fetch.py); an answer other than
    200 and a redirect to a sign-in page are refused: a login page is not a reference document."""
    if re.match(r"https?://", source, re.I):
        from foundation.fetch import fetch, redact

        shown = redact(source)
        got = fetch(source, what="docs add")
        if got.redirected_from and _SIGN_IN.search(urllib.parse.urlsplit(got.url).path):
            raise InputError(
                f"docs add: {shown} redirected to a sign-in page ({got.url}): a page behind a login cannot be "
                "added; save it from a browser where you are signed in and add the file"
            )
        if got.status in (401, 403):
            raise InputError(
                f"docs add: {shown}: HTTP {got.status}, the page needs a login: save it from a browser "
                "where you are signed in and add the file"
            )
        if got.status != 200:
            raise InputError(f"docs add: cannot fetch {shown}: HTTP {got.status}")
        ctype = got.content_type
        suffix = Path(urllib.parse.urlsplit(source).path).suffix.lower()
        if "pdf" in ctype or suffix == ".pdf":
            return got.content, "pdf"
        if "markdown" in ctype or suffix in (".md", ".markdown"):
            return got.content, "markdown"
        if ctype.startswith("text/plain") or suffix == ".txt":
            return got.content, "text"
        return got.content, "html"
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{source}: no such file")
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            f"{source}: unknown document type {path.suffix!r}; use one of {', '.join(sorted(KINDS))}"
        )
    return path.read_bytes(), kind


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 at byte {exc.start} ({exc.reason})") from None


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # all but tab and line ends


def clean_text(text: str) -> str:
    """NFC, LF line ends, control characters (NUL included) removed: the same text on SQLite and
    PostgreSQL (which refuses NUL in a text column)."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _nfc(text: str) -> str:
    text = clean_text(text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def extract(data: bytes, kind: str, source: str) -> Extracted:
    """The document's text (NFC, LF line ends), title and page offsets."""
    if kind == "pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not _decrypts_without_password(reader):
                raise InputError(
                    f"{source}: the PDF is encrypted and needs a password: save a copy without one "
                    "(e.g. qpdf --decrypt --password=PASSWORD in.pdf out.pdf) and add that"
                )
            pages = [_nfc(_SPACES.sub(" ", p.extract_text() or "")) for p in reader.pages]
            meta_title = (reader.metadata or {}).get("/Title") if reader.metadata else None
        except (PdfReadError, ValueError, KeyError) as exc:
            raise InputError(f"{source}: not a readable PDF ({exc})") from exc
        starts, parts, pos = [], [], 0
        for text in pages:
            starts.append(pos)
            parts.append(text)
            pos += len(text) + 2
        text = "\n\n".join(parts)
        title = _nfc(str(meta_title)) if meta_title else _first_line(text)
        return Extracted("pdf", title or None, text, starts)
    if kind == "html":
        import trafilatura

        html = _decode(data, source)
        body = trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=True)
        meta = trafilatura.extract_metadata(html)
        text = _nfc(body or "")
        title = _nfc(meta.title) if meta is not None and meta.title else _first_line(text)
        return Extracted("html", title or None, text)
    raw = _nfc(_decode(data, source))
    if kind == "markdown":
        heading = re.search(r"^#\s+(.+)$", raw, re.M)
        text = _MD_MARKUP.sub("", _MD_HEADING.sub("", raw))
        return Extracted("markdown", heading.group(1).strip() if heading else _first_line(text), text)
    return Extracted("text", _first_line(raw), raw)


def _decrypts_without_password(reader) -> bool:
    """An encrypted PDF may open with the empty user password (only its permissions are locked)."""
    from pypdf.errors import DependencyError, PdfReadError

    try:
        return bool(reader.decrypt(""))
    except (DependencyError, PdfReadError, NotImplementedError):
        return False


def _first_line(text: str) -> str | None:
    line = text.strip().split("\n", 1)[0].strip() if text.strip() else ""
    return line[:200] or None


WINDOW_CHARS = 2000  # Kiwi's sentence splitting grows faster than linearly with its input
_WINDOW_CUT = re.compile(r"[.!?。]\s|다\s|\n")  # the last sentence end before the limit …
_SPACE = re.compile(r"\s")  # … or the last space; else a hard cut


def windows(text: str, limit: int = WINDOW_CHARS) -> list[tuple[int, str]]:
    """(offset, piece) covering `text`, each piece at most `limit` characters, cut after a sentence
    end or a space where there is one, so splitting stays linear in the paragraph's length."""
    out: list[tuple[int, str]] = []
    pos = 0
    while len(text) - pos > limit:
        window = text[pos : pos + limit]
        cut = None
        for pattern in (_WINDOW_CUT, _SPACE):
            ends = [m.end() for m in pattern.finditer(window, limit // 2)]
            if ends:
                cut = ends[-1]
                break
        cut = cut or limit
        out.append((pos, text[pos : pos + cut]))
        pos += cut
    out.append((pos, text[pos:]))
    return out


def iter_sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every sentence, lazily: paragraphs (runs of non-blank lines) split by Kiwi,
    a long paragraph in windows of at most `WINDOW_CHARS` (see `windows`)."""
    for para in _PARAGRAPH.finditer(text):
        for off, piece in windows(para.group()):
            base = para.start() + off
            for sent in kiwi().split_into_sents(piece):
                start, end = base + sent.start, base + sent.end
                while start < end and text[start].isspace():
                    start += 1
                while end > start and text[end - 1].isspace():
                    end -= 1
                if end > start:
                    yield start, end


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence (see `iter_sentence_spans`)."""
    return list(iter_sentence_spans(text))


def make_chunks(
    text: str,
    chunk_chars: int = 500,
    overlap_chars: int = 120,
    page_starts: Sequence[int] | None = None,
    max_chunks: int | None = None,
) -> list[Chunk]:
    """Runs of whole sentences, each at most `chunk_chars` long (a longer sentence stands alone),
    each starting with the last sentences of the previous run that fit in `overlap_chars`.
    With `max_chunks`, at most that many plus one (the extra one says there was more), and the
    text is split into sentences only as far as those chunks need."""
    found = iter_sentence_spans(text)
    spans: list[tuple[int, int]] = []

    def have(n: int) -> bool:  # is there a sentence number n (splitting on demand)?
        while len(spans) <= n:
            nxt = next(found, None)
            if nxt is None:
                return False
            spans.append(nxt)
        return True

    chunks: list[Chunk] = []
    i = 0
    while have(i):
        j = i
        while have(j + 1) and spans[j + 1][1] - spans[i][0] <= chunk_chars:
            j += 1
        start, end = spans[i][0], spans[j][1]
        page = None
        if page_starts:
            page = max(n for n, s in enumerate(page_starts, start=1) if s <= start)
        chunks.append(Chunk(len(chunks), start, end, text[start:end], page))
        if not have(j + 1) or (max_chunks is not None and len(chunks) > max_chunks):
            break
        k = j + 1
        while k - 1 > i and end - spans[k - 1][0] <= overlap_chars:
            k -= 1
        i = k
    return chunks


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


def reference_sources() -> list[Path]:
    """The reference set shipped with the project (written for it): Markdown and its PDF."""
    return sorted(p for p in REFERENCE_DIR.iterdir() if p.suffix in (".md", ".pdf"))


def write_reference_pdf(markdown: Path, out: Path, font: Path | None = None) -> Path:
    """A small PDF of a Markdown file (headings bold and larger), set in a Hangul font (fonts-nanum)."""
    import logging

    from fpdf import FPDF

    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "TSI0 NOT subset" notes
    font = font or find_hangul_font()
    raw = _nfc(_decode(markdown.read_bytes(), str(markdown)))
    title = re.search(r"^#\s+(.+)$", raw, re.M)
    pdf = FPDF(format=(105, 148))  # A6 in mm: a few pages
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))  # the same bytes on every build
    pdf.set_title(title.group(1).strip() if title else markdown.stem)
    pdf.set_author("dobae")
    pdf.add_font("hangul", "", str(font))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    for block in re.split(r"\n\s*\n", raw):
        block = block.strip()
        level = len(block) - len(block.lstrip("#"))
        body = block.lstrip("#").strip()
        pdf.set_font("hangul", size={1: 15, 2: 12}.get(level, 10))
        pdf.multi_cell(0, 6 if level else 5.5, body, align="L")
        pdf.ln(2)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out


def find_hangul_font() -> Path:
    for candidate in (
        Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),
        Path("/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf"),
    ):
        if candidate.exists():
            return candidate
    from foundation.errors import ConfigError

    raise ConfigError("no Hangul font for the reference PDF: apt-get install fonts-nanum (make system-deps)")


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
