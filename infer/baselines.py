"""The `constant` answerer: the same generic answer to every question (the floor any model must beat)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infer.answerer import register_answerer
from qa.pairs import Pair

# Written for this project: what a generic 도배 하자 answer says, in the reference answers' style.
GENERIC_ANSWER = (
    "도배 하자는 주로 벽체의 습기와 결로, 바탕면 처리 불량, 풀칠이나 건조 시간 부족 같은 시공 불량으로 "
    "발생합니다. 먼저 하자의 원인을 확인한 뒤 해당 부위를 보수하거나 재시공하는 것이 좋으며, 하자가 넓거나 "
    "반복된다면 전문가에게 점검을 받는 것이 바람직합니다."
)


@register_answerer("constant")
class ConstantAnswerer:
    """Answers every question with `text` (default: a generic 도배 하자 answer); ignores the training pairs."""

    name = "constant"

    def __init__(self, text: str = GENERIC_ANSWER) -> None:
        if not str(text).strip():
            raise ValueError("text must not be empty")
        self.text = str(text).strip()

    def fit(self, pairs: Sequence[Pair]) -> None:
        return None

    def answer(self, questions: Sequence[str]) -> list[str]:
        return [self.text for _ in questions]

    def config(self) -> dict[str, Any]:
        return {"text": self.text}
