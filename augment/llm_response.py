"""Reading a completion out of a server's JSON answer (chat or text completion, live or from a
Batch API results file)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def read_completion(resp: Any) -> tuple[str | None, str | None, int | None, int | None] | None:
    """(content, finish_reason, prompt_tokens, completion_tokens) of a chat or text completion JSON;
    None when `resp` is not one."""
    if not isinstance(resp, dict) or not isinstance(resp.get("choices"), list) or not resp["choices"]:
        return None
    choice = resp["choices"][0] if isinstance(resp["choices"][0], dict) else {}
    message = choice.get("message") or {}
    content = message.get("content")
    if content is None and "message" not in choice and isinstance(choice.get("text"), str):
        content = choice["text"]  # a text completion (/completions)
    if content is None and message.get("refusal"):
        content = message["refusal"]  # the refusal gate flags it; the text is kept
    usage = resp.get("usage") or {}
    return content, choice.get("finish_reason"), usage.get("prompt_tokens"), usage.get("completion_tokens")


def cut_at_stop(text: str | None, stop: Sequence[str]) -> str | None:
    """`text` up to the first stop sequence (servers differ in whether they include it)."""
    if not text or not stop:
        return text
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:cut]
