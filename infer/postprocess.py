"""Clean a generated answer before it is scored or submitted.

- **prompt echo**: a base model fine-tuned on `질문: …\\n답변: …` sometimes repeats the prompt's
  labels or the question, or runs on into a new `질문:` turn; everything from a new turn on is cut,
  and a leading `답변:` label or a verbatim copy of the question is dropped;
- **repeated sentences**: small models loop ("…합니다. …합니다. …합니다."); a sentence whose
  normalised text was already said is dropped;
- **the scorer's window**: the DACON scorer reads only the first 128 word-pieces; an answer longer
  than that is cut at the last whole sentence that fits (never mid-sentence when one fits), and a
  trailing unfinished sentence (generation stopped by `max_new_tokens`) is dropped when at least
  one whole sentence precedes it.
"""

from __future__ import annotations

import re
import unicodedata

from qa.embedders import WINDOW, approx_wordpiece_truncate, approx_wordpieces
from qa.prompt import ANSWER_PREFIX, CONTEXT_HEADER, QUESTION_PREFIX
from qa.sentences import split_at_marks

_NEW_TURN = re.compile(
    rf"(?:^|\n|\s)(?:{re.escape(QUESTION_PREFIX.strip())}|{re.escape(CONTEXT_HEADER.strip())}|\[\d+\]\s*{re.escape(QUESTION_PREFIX.strip())})"
)
_LEAD_LABEL = re.compile(rf"^\s*(?:{re.escape(ANSWER_PREFIX.strip())}\s*)+")
_ENDS = (".", "!", "?", "다", "요", "。")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def _sentence_key(sentence: str) -> str:
    return re.sub(r"[\s.!?,。]+", "", sentence)


def strip_echo(answer: str, question: str = "") -> str:
    """The answer without a new `질문:` turn, a leading `답변:` label or a copy of the question."""
    text = unicodedata.normalize("NFC", answer)
    m = _NEW_TURN.search(text)
    if m is not None:
        text = text[: m.start()]
    text = _LEAD_LABEL.sub("", text).strip()
    q = _norm(question)
    if q and _norm(text).startswith(q):
        text = _norm(text)[len(q) :].lstrip(" \n:")
        text = _LEAD_LABEL.sub("", text).strip()
    return _norm(text)


def sentences(text: str) -> list[str]:
    """The answer's sentences (`split_at_marks` on its whitespace-normalised text)."""
    return split_at_marks(_norm(text))


def drop_repeats(text: str) -> str:
    """Each sentence once, first occurrence kept (compared without spaces and punctuation)."""
    seen: set[str] = set()
    kept = []
    for s in sentences(text):
        key = _sentence_key(s)
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(s)
    return " ".join(kept)


def drop_unfinished(text: str) -> str:
    """Drop a last sentence that does not end like a sentence, if a finished one precedes it."""
    parts = sentences(text)
    if len(parts) > 1 and not parts[-1].endswith(_ENDS):
        parts = parts[:-1]
    return " ".join(parts)


def fit_window(text: str, window: int = WINDOW) -> str:
    """Whole sentences that fit in the scorer's `window` word-pieces (a cut sentence only if the
    first one alone is longer than the window)."""
    if approx_wordpieces(text) <= window - 2:
        return text
    kept: list[str] = []
    for s in sentences(text):
        if approx_wordpieces(" ".join([*kept, s])) > window - 2:
            break
        kept.append(s)
    return " ".join(kept) if kept else approx_wordpiece_truncate(text, window)


def postprocess(answer: str, question: str = "", *, window: int = WINDOW) -> str:
    """strip_echo → drop_repeats → drop_unfinished → fit_window."""
    return fit_window(drop_unfinished(drop_repeats(strip_echo(answer, question))), window)
