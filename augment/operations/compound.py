"""`compound`: two pairs joined like DACON's test questions (또한, / 그리고), answers concatenated.
Rule-based: no LLM."""

from __future__ import annotations

import random
import re

from augment.gates import Candidate
from augment.operations.base import Derived, Operation, PairRow, Selection, WorkItem, select_pairs

_END = re.compile(r"[?？.!。]\s*$")


def join_compound(q1: str, q2: str, joiner: str) -> str:
    """`q1` and `q2` as one test-style question: "…나요? 또한, …" / "…주세요. 그리고 …"."""
    q1, q2 = q1.strip(), q2.strip()
    if not _END.search(q1):
        q1 += "?"
    return f"{q1} {joiner} {q2}"


class CompoundQuestions(Operation):
    """Two pairs of different groups (same category when possible) joined like DACON's test
    questions; the answer is both answers in order. Rule-based: no LLM, deterministic by seed.

    The pair keeps the first pair's group and parent; `source_groups` holds both pairs' groups
    (grouped splits hold it out with either), and the generation's params the partner's id and
    group (`partner_id`, `partner_group`)."""

    name = "compound"
    uses_llm = False
    JOINERS = ("또한,", "그리고")

    def items(self, session, sel):
        pairs = select_pairs(session, sel)
        pool = select_pairs(session, Selection(sel.source, None, sel.status, None))
        rng = random.Random(self.settings.seed)
        by_cat: dict[str | None, list[PairRow]] = {}
        for p in pool:
            by_cat.setdefault(p.category, []).append(p)
        items = []
        for p in pairs:
            for k in range(self.settings.augment.compound_per_pair):
                mine = set(p.all_groups())
                same = [x for x in by_cat.get(p.category, []) if mine.isdisjoint(x.all_groups())]
                others = same or [x for x in pool if mine.isdisjoint(x.all_groups())]
                if not others:
                    continue
                partner = others[rng.randrange(len(others))]
                joiner = self.JOINERS[rng.randrange(len(self.JOINERS))]
                items.append(WorkItem(f"pair:{p.id}:{k}", [p, partner], None, {"joiner": joiner}))
        return items

    def derive(self, item, parsed):
        a, b = item.pairs
        c = Candidate(
            question=join_compound(a.question, b.question, item.extra["joiner"]),
            answer=f"{a.answer.strip()} {b.answer.strip()}",
            group_id=a.group_id,
            fields=("question",),
            untrusted=(a.question, a.answer, b.question, b.answer),
        )
        return [Derived(c, a, f"compound:{b.id}", (a, b))]
