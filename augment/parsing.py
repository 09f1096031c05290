"""Defensive parsing of LLM output into a pydantic model.

Servers that ignore `response_format` (e.g. `transformers serve`) answer with fenced JSON, prose
around the JSON, or no JSON at all. `parse_output` finds the first JSON value that validates and
otherwise raises `ParseError` with a machine-readable reason; the raw text is always kept by the
caller. A JSON value whose every string is a placeholder ("...", as in the prompt's format
example) is not an answer: a small base model that echoes its prompt would otherwise "answer"
with the example itself.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
PLACEHOLDERS = {"", "...", "…", "..", "."}


class ParseError(ValueError):
    """Output that does not hold the expected JSON. `reason` is machine-readable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def json_candidates(text: str) -> list[object]:
    """Every JSON object/array found in `text`: fenced blocks first, then the whole text, then any
    balanced `{…}`/`[…]` span embedded in prose."""
    found: list[object] = []
    blocks = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for block in blocks:
        stripped = block.strip()
        try:
            found.append(json.loads(stripped))
            continue
        except json.JSONDecodeError:
            pass
        for i, ch in enumerate(block):
            if ch not in "{[":
                continue
            try:
                value, _end = decoder.raw_decode(block, i)
            except json.JSONDecodeError:
                continue
            found.append(value)
    return found


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def is_placeholder(value: object) -> bool:
    """Whether every string in `value` is a placeholder such as "..." (the prompt's own example)."""
    return all(s.strip() in PLACEHOLDERS for s in _strings(value))


def parse_output(text: str | None, model: type[M]) -> M:
    """The first JSON value in `text` that validates as `model`."""
    if text is None or not text.strip():
        raise ParseError("parse_error", "empty output")
    candidates = json_candidates(text)
    if not candidates:
        raise ParseError("parse_error", "no JSON found")
    last: ValidationError | None = None
    placeholders = 0
    for value in candidates:
        try:
            parsed = model.model_validate(value)
        except ValidationError as exc:
            last = exc
            continue
        if is_placeholder(value):
            placeholders += 1
            continue
        return parsed
    if placeholders:
        raise ParseError(
            "parse_error",
            f"only the format example's placeholders ({placeholders} JSON value(s) of '...'): "
            "the output repeats the prompt instead of answering",
        )
    assert last is not None
    first = last.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    raise ParseError(
        "parse_error", f"JSON does not match {model.__name__}: {loc} {first.get('msg', '')}".strip()
    )
