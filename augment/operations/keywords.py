"""`keywords`: domain keywords per pair (stored into `keywords` / `pair_keywords` by the runner)."""

from __future__ import annotations

import re

from augment.client import ChatRequest
from augment.operations.base import Operation, PairRow, WorkItem
from augment.schemas import Keywords


class ExtractKeywords(Operation):
    name = "keywords"
    template_name = "keywords"
    makes_pairs = False

    completion_fields = ("question", "answer", "target")

    def item_for(self, pair: PairRow) -> WorkItem:
        if self.completion:
            req = self.completion_request(pair, question=pair.question, answer=pair.answer)
            return WorkItem(f"pair:{pair.id}", [pair], req)
        msgs = self.template.render(
            question=pair.question, answer=pair.answer, n=self.settings.augment.keywords_per_pair
        )
        return WorkItem(f"pair:{pair.id}", [pair], ChatRequest(msgs, self.output))

    def parse_text(self, text):
        words = [w.strip(" .\"'") for w in re.split(r"[,，、/·]", text)]
        return Keywords.model_construct(keywords=[w for w in words if w])
