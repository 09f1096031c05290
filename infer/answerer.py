"""The answerer interface shared by `dobae evaluate` and `dobae submit`.

An answerer is fitted on training pairs (one cross-validation fold, or all imported data for a
submission) and then answers questions. Implementations register themselves by name in
`ANSWERERS` so the CLI can pick them with `--answerer NAME`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class TrainPair:
    question: str
    answer: str
    group_id: str
    category: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Answerer(Protocol):
    name: str

    def fit(self, pairs: Sequence[TrainPair]) -> None: ...

    def answer(self, questions: Sequence[str]) -> list[str]: ...

    def config(self) -> dict[str, Any]:
        """What identifies this answerer's settings (stored with every evaluation)."""
        ...


ANSWERERS: dict[str, Callable[..., Answerer]] = {}


def register_answerer(name: str) -> Callable[[Callable[..., Answerer]], Callable[..., Answerer]]:
    def deco(factory: Callable[..., Answerer]) -> Callable[..., Answerer]:
        ANSWERERS[name] = factory
        return factory

    return deco
