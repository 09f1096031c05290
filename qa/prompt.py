"""The one prompt template shared by training and inference (never define another copy).

A model trained with retrieved context must be served with the same context format, so the
context block is part of this template too. The answer follows `답변: ` and ends with the
tokenizer's EOS token (added by the trainer, stopped on by the generator).
"""

from __future__ import annotations

from collections.abc import Sequence

TEMPLATE_NAME = "qa"
TEMPLATE_VERSION = "1"

QUESTION_PREFIX = "질문: "
ANSWER_PREFIX = "답변: "
CONTEXT_HEADER = "참고 자료:\n"


def build_prompt(question: str, context: Sequence[tuple[str, str]] = ()) -> str:
    """The text the model sees before its answer.

    `context` holds retrieved (question, answer) pairs, most relevant first; empty for no retrieval.
    """
    parts: list[str] = []
    if context:
        lines = [CONTEXT_HEADER]
        for i, (q, a) in enumerate(context, 1):
            lines.append(f"[{i}] {QUESTION_PREFIX}{q.strip()}\n{ANSWER_PREFIX}{a.strip()}\n")
        parts.append("".join(lines) + "\n")
    parts.append(f"{QUESTION_PREFIX}{question.strip()}\n{ANSWER_PREFIX}")
    return "".join(parts)


def build_example(question: str, answer: str, context: Sequence[tuple[str, str]] = ()) -> tuple[str, str]:
    """(prompt, completion) for supervised training: loss goes on the completion only."""
    return build_prompt(question, context), answer.strip()
