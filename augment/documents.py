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
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dobae.errors import InputError
from dobae.qa.sentences import kiwi

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


def read_source(source: str, timeout_s: float = 30.0) -> tuple[bytes, str]:
    """The bytes of a path or http(s) URL and its kind (pdf, html, markdown, text)."""
    if re.match(r"https?://", source):
        try:
            with urllib.request.urlopen(source, timeout=timeout_s) as resp:
                data = resp.read()
                ctype = resp.headers.get("Content-Type", "")
        except (urllib.error.URLError, OSError) as exc:
            raise InputError(f"{source}: cannot fetch ({exc})") from exc
        suffix = Path(urllib.parse.urlsplit(source).path).suffix.lower()
        if "pdf" in ctype or suffix == ".pdf":
            return data, "pdf"
        if "markdown" in ctype or suffix in (".md", ".markdown"):
            return data, "markdown"
        if ctype.startswith("text/plain") or suffix == ".txt":
            return data, "text"
        return data, "html"
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


def _nfc(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def extract(data: bytes, kind: str, source: str) -> Extracted:
    """The document's text (NFC, LF line ends), title and page offsets."""
    if kind == "pdf":
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(io.BytesIO(data))
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
        title = str(meta_title) if meta_title else _first_line(text)
        return Extracted("pdf", title, text, starts)
    if kind == "html":
        import trafilatura

        html = _decode(data, source)
        body = trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=True)
        meta = trafilatura.extract_metadata(html)
        text = _nfc(body or "")
        title = meta.title if meta is not None and meta.title else _first_line(text)
        return Extracted("html", title, text)
    raw = _nfc(_decode(data, source))
    if kind == "markdown":
        heading = re.search(r"^#\s+(.+)$", raw, re.M)
        text = _MD_MARKUP.sub("", _MD_HEADING.sub("", raw))
        return Extracted("markdown", heading.group(1).strip() if heading else _first_line(text), text)
    return Extracted("text", _first_line(raw), raw)


def _first_line(text: str) -> str | None:
    line = text.strip().split("\n", 1)[0].strip() if text.strip() else ""
    return line[:200] or None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence: paragraphs (runs of non-blank lines) split by Kiwi."""
    spans: list[tuple[int, int]] = []
    for para in _PARAGRAPH.finditer(text):
        base = para.start()
        for sent in kiwi().split_into_sents(para.group()):
            start, end = base + sent.start, base + sent.end
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                spans.append((start, end))
    return spans


def make_chunks(
    text: str, chunk_chars: int = 500, overlap_chars: int = 120, page_starts: Sequence[int] | None = None
) -> list[Chunk]:
    """Runs of whole sentences, each at most `chunk_chars` long (a longer sentence stands alone),
    each starting with the last sentences of the previous run that fit in `overlap_chars`."""
    spans = sentence_spans(text)
    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] - spans[i][0] <= chunk_chars:
            j += 1
        start, end = spans[i][0], spans[j][1]
        page = None
        if page_starts:
            page = max(n for n, s in enumerate(page_starts, start=1) if s <= start)
        chunks.append(Chunk(len(chunks), start, end, text[start:end], page))
        if j + 1 >= len(spans):
            break
        k = j + 1
        while k - 1 > i and end - spans[k - 1][0] <= overlap_chars:
            k -= 1
        i = k
    return chunks


def add_documents(
    sources: Sequence[str | Path], note: str | None = None, url: str | None = None, settings=None
) -> AddSummary:
    """Add each source (path or URL) with its chunks; an unchanged one (same sha256) is skipped."""
    from sqlalchemy import select

    from db.migrate import ensure_schema
    from db.models import DocChunk, Document
    from db.session import session_scope
    from dobae.settings import get_settings

    settings = settings or get_settings()
    ensure_schema(url)
    summary = AddSummary()
    for src in sources:
        source = str(src)
        data, kind = read_source(source)
        digest = hashlib.sha256(data).hexdigest()
        with session_scope(url) as s:
            existing = s.scalar(select(Document.id).where(Document.sha256 == digest))
        if existing is not None:
            summary.unchanged.append((source, existing))
            continue
        ex = extract(data, kind, source)
        if not ex.text.strip():
            raise InputError(f"{source}: no text found in the {kind} document")
        chunks = make_chunks(
            ex.text, settings.augment.docs.chunk_chars, settings.augment.docs.overlap_chars, ex.page_starts
        )
        with session_scope(url) as s:
            doc = Document(
                sha256=digest,
                source=source,
                kind=ex.kind,
                title=ex.title,
                note=note,
                text=ex.text,
                pages=len(ex.page_starts) if ex.page_starts else None,
            )
            doc.chunks = [
                DocChunk(seq=c.seq, page=c.page, start_char=c.start, end_char=c.end, text=c.text)
                for c in chunks
            ]
            s.add(doc)
            s.flush()
            summary.added.append((source, doc.id, len(chunks)))
    return summary


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
    from dobae.errors import ConfigError

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
