"""A reference document's text: the bytes of a path or URL (`read_source`) and the text, title and
page offsets read out of them (`extract`): PDF through pypdf, HTML through trafilatura, Markdown and
plain text as UTF-8 with or without BOM. Text is NFC with LF line ends and no control characters."""

from __future__ import annotations

import io
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from foundation.errors import InputError

KINDS = {
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
}
_MD_HEADING = re.compile(r"^#{1,6}\s+", re.M)
_MD_MARKUP = re.compile(r"(\*\*|__|`)")
_SPACES = re.compile(r"[ \t]{2,}")


@dataclass
class Extracted:
    kind: str
    title: str | None
    text: str
    page_starts: list[int] | None = None  # character offset where each page begins (PDF)


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


def decode_utf8(data: bytes, source: str) -> str:
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


def tidy_text(text: str) -> str:
    """`clean_text`, each line's trailing spaces and the blank lines around the text removed."""
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
            pages = [tidy_text(_SPACES.sub(" ", p.extract_text() or "")) for p in reader.pages]
            meta_title = (reader.metadata or {}).get("/Title") if reader.metadata else None
        except (PdfReadError, ValueError, KeyError) as exc:
            raise InputError(f"{source}: not a readable PDF ({exc})") from exc
        starts, parts, pos = [], [], 0
        for text in pages:
            starts.append(pos)
            parts.append(text)
            pos += len(text) + 2
        text = "\n\n".join(parts)
        title = tidy_text(str(meta_title)) if meta_title else _first_line(text)
        return Extracted("pdf", title or None, text, starts)
    if kind == "html":
        import trafilatura

        html = decode_utf8(data, source)
        body = trafilatura.extract(html, include_comments=False, include_tables=True, favor_precision=True)
        meta = trafilatura.extract_metadata(html)
        text = tidy_text(body or "")
        title = tidy_text(meta.title) if meta is not None and meta.title else _first_line(text)
        return Extracted("html", title or None, text)
    raw = tidy_text(decode_utf8(data, source))
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
