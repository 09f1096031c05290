"""A document's text cut into runs of whole sentences (`make_chunks`): Kiwi (kiwipiepy, a Korean
morphological analyser) splits paragraphs (so a heading never joins the next sentence) in windows
of bounded length; each chunk is at most `chunk_chars` long and overlaps its neighbour by at most
`overlap_chars`, and keeps its character offsets (`text[start:end] == chunk`) and, for a PDF, the
page it starts on."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from qa.sentences import kiwi

_PARAGRAPH = re.compile(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*")  # runs of non-blank lines


@dataclass
class Chunk:
    seq: int
    start: int
    end: int
    text: str
    page: int | None = None


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
