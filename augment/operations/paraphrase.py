"""Paraphrase operations: `paraphrase-questions` (formal and colloquial rewrites of each question,
like 질문_1 / 질문_2) and `paraphrase-answers` (rewrites of each answer that keep every fact, like
답변_1 … 답변_5)."""

from __future__ import annotations

from augment.client import ChatRequest
from augment.gates import Candidate
from augment.operations.base import RAW_KEEP, Derived, Operation, PairRow, WorkItem
from augment.schemas import AnswerParaphrases, QuestionParaphrases


class ParaphraseQuestions(Operation):
    name = "paraphrase-questions"
    template_name = "question_paraphrase"
    distinct_by = "question"

    example_field = "question"

    def item_for(self, pair: PairRow) -> WorkItem:
        if self.completion:
            return WorkItem(f"pair:{pair.id}", [pair], self.completion_request(pair, source=pair.question))
        n = self.settings.augment.question_paraphrases
        msgs = self.template.render(question=pair.question, n=n)
        return WorkItem(f"pair:{pair.id}", [pair], ChatRequest(msgs, self.output))

    def parse_text(self, text):
        return QuestionParaphrases.model_construct(formal=[text], colloquial=[])

    def derive(self, item, parsed):
        p = item.pairs[0]
        n = self.settings.augment.question_paraphrases
        out = []
        for register in ("formal", "colloquial"):
            for i, text in enumerate(getattr(parsed, register)[:n]):
                c = Candidate(
                    question=text,
                    answer=p.answer,
                    group_id=p.group_id,
                    fields=("question",),
                    source={"question": p.question},
                    untrusted=(p.question, p.answer),
                )
                out.append(Derived(c, p, f"{register}:{i}"))
        return out


class ParaphraseAnswers(Operation):
    name = "paraphrase-answers"
    template_name = "answer_paraphrase"
    distinct_by = "answer"

    example_field = "answer"
    completion_fields = ("question", "source", "target")

    def item_for(self, pair: PairRow) -> WorkItem:
        if self.completion:
            req = self.completion_request(pair, question=pair.question, source=pair.answer)
            return WorkItem(f"pair:{pair.id}", [pair], req)
        n = self.settings.augment.answer_paraphrases
        msgs = self.template.render(question=pair.question, answer=pair.answer, n=n)
        return WorkItem(f"pair:{pair.id}", [pair], ChatRequest(msgs, self.output))

    def parse_text(self, text):
        return AnswerParaphrases.model_construct(answers=[text])

    def derive(self, item, parsed):
        p = item.pairs[0]
        return [
            Derived(
                Candidate(
                    question=p.question,
                    answer=text,
                    group_id=p.group_id,
                    fields=("answer",),
                    source={"answer": p.answer},
                    untrusted=(p.question, p.answer),
                ),
                p,
                f"answer:{i}",
            )
            for i, text in enumerate(parsed.answers[: self.settings.augment.answer_paraphrases])
        ]

    def on_parse_error(self, item, raw, error):
        p = item.pairs[0]
        c = Candidate(
            question=p.question,
            answer=raw[:RAW_KEEP],
            group_id=p.group_id,
            fields=("answer",),
            parse_error=error,
            untrusted=(p.question, p.answer),
        )
        return [Derived(c, p, "parse_error")]
