"""The augmentation operations, one module per family (`OPERATIONS` maps CLI names to them):

- `paraphrase-questions`, `paraphrase-answers` (paraphrase.py): rewrites of each question (formal
  and colloquial, like 질문_1 / 질문_2) or answer (every fact kept, like 답변_1 … 답변_5);
- `keywords` (keywords.py): domain keywords per pair into `keywords` / `pair_keywords`;
- `seeded`, `from-docs` (grounded.py): new pairs for glossary keywords, grounded on retrieved
  existing pairs; pairs grounded on one document chunk each;
- `compound` (compound.py): two pairs joined with 또한, / 그리고 and their answers concatenated (no LLM).

What they share (selection, work item, derived candidate, the `Operation` base) is in base.py.
One work item = one source pair (or glossary keyword, or chunk) = at most one LLM call. The runner
that drives an operation through client, cache and gates and stores what it makes — resumable, one
transaction per item — is `augment.runner` (`run_operation`).
"""

from __future__ import annotations

from augment.operations.base import (
    RAW_KEEP,
    Derived,
    Operation,
    PairRow,
    Selection,
    WorkItem,
    select_pairs,
)
from augment.operations.compound import CompoundQuestions, join_compound
from augment.operations.grounded import FromDocs, SeededGeneration
from augment.operations.keywords import ExtractKeywords
from augment.operations.paraphrase import ParaphraseAnswers, ParaphraseQuestions
from foundation.errors import InputError
from foundation.settings import Settings

OPERATIONS: dict[str, type[Operation]] = {
    op.name: op
    for op in (
        ParaphraseQuestions,
        ParaphraseAnswers,
        ExtractKeywords,
        SeededGeneration,
        CompoundQuestions,
        FromDocs,
    )
}


def get_operation(name: str, settings: Settings, mode: str = "chat") -> Operation:
    if name not in OPERATIONS:
        raise InputError(f"unknown operation {name!r}; use one of {', '.join(OPERATIONS)}")
    return OPERATIONS[name](settings, mode)


__all__ = [
    "OPERATIONS",
    "RAW_KEEP",
    "CompoundQuestions",
    "Derived",
    "ExtractKeywords",
    "FromDocs",
    "Operation",
    "PairRow",
    "ParaphraseAnswers",
    "ParaphraseQuestions",
    "SeededGeneration",
    "Selection",
    "WorkItem",
    "get_operation",
    "join_compound",
    "select_pairs",
]
