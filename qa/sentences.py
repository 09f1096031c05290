"""Korean sentence splitting (Kiwi, from the `kiwipiepy` package): one analyser for the process,
shared by the `compose` answerer and reference-document chunking (`augment.doc_chunking`).

`split_at_marks(text)` is the fast split (a regular expression, at sentence marks and line
breaks, texts kept as written) for checks on every generated or crawled pair, the answer
post-processing and the report's counts over thousands of texts, where Kiwi is too slow or its
cleaning (a final '.') would hide what is checked.

`split_sentences(texts)` returns each text's sentences, each cleaned (NFC, one space between words,
no space before punctuation, ending in a sentence mark). Kiwi's model ships in the
`kiwipiepy-model` PyPI package, so nothing is downloaded at run time. Splits are memoised in the
process (a cross-validation refits on the same answers five times; Kiwi takes ≈ 6 ms an answer).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence

from foundation.errors import ConfigError

_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,!?;:)])")
_ENDS = (".", "!", "?", "…", ")", '"', "'")
# a sentence that leans on the one before it cannot open an answer
ANAPHORIC_OPENING = re.compile(
    r"^(?:이를|이는|이러한|이런|이와|이것|이때|이 때|이 경우|그러나|하지만|그리고|또한|따라서|그러므로|그래서|"
    r"그렇기|그 외에도|그 외|그것|그런|그러한|게다가|더불어|아울러|특히|다만|단,)(?=[\s,]|$)"
)

_AT_MARKS = re.compile(r"(?<=[.!?？。])\s+|\n+")

_lock = threading.Lock()
_kiwi = None
_memo: dict[str, tuple[str, ...]] = {}


def split_at_marks(text: str) -> list[str]:
    """The text's sentences at . ! ? ？ 。 followed by space, and at line breaks; each stripped,
    empty ones dropped, nothing else changed."""
    return [s.strip() for s in _AT_MARKS.split(text or "") if s.strip()]


def kiwi():
    """The process's one Kiwi analyser (loaded on first use, ≈ 1 s)."""
    global _kiwi
    with _lock:
        if _kiwi is None:
            try:
                from kiwipiepy import Kiwi
            except ImportError as exc:  # pragma: no cover - a declared dependency
                raise ConfigError("sentence splitting needs kiwipiepy: pip install kiwipiepy") from exc
            _kiwi = Kiwi(num_workers=1)
        return _kiwi


def clean_sentence(text: str) -> str:
    """NFC, single spaces, no space before punctuation, a final sentence mark ('.' when missing)."""
    s = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip())
    s = s.strip(" ,")
    if s and not s.endswith(_ENDS):
        s += "."
    return s


def split_sentences(texts: Sequence[str]) -> list[tuple[str, ...]]:
    """Each text's cleaned sentences (empty ones dropped; a text without any gives one sentence)."""
    todo = list(dict.fromkeys(t for t in texts if t not in _memo))
    if todo:
        for text, sents in zip(todo, kiwi().split_into_sents(todo, return_tokens=False), strict=True):
            parts = tuple(c for c in (clean_sentence(s.text) for s in sents) if len(c) > 1)
            _memo[text] = parts or ((clean_sentence(text),) if text.strip() else ())
    return [_memo[t] for t in texts]


def join_sentences(sentences: Sequence[str]) -> str:
    return " ".join(s for s in sentences if s)
