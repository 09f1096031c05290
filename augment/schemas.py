"""Pydantic models for every structured LLM output (their JSON schema goes into response_format)."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, Field, field_validator


def _nfc_list(values: list[str]) -> list[str]:
    return [unicodedata.normalize("NFC", v).strip() for v in values]


class QuestionParaphrases(BaseModel):
    """Question paraphrases in two registers, like DACON's 질문_1 (formal) and 질문_2 (colloquial)."""

    formal: list[str] = Field(min_length=1)
    colloquial: list[str] = Field(min_length=1)

    _nfc = field_validator("formal", "colloquial")(classmethod(lambda cls, v: _nfc_list(v)))


class AnswerParaphrases(BaseModel):
    answers: list[str] = Field(min_length=1)

    _nfc = field_validator("answers")(classmethod(lambda cls, v: _nfc_list(v)))


class Keywords(BaseModel):
    keywords: list[str] = Field(min_length=1)

    _nfc = field_validator("keywords")(classmethod(lambda cls, v: _nfc_list(v)))


class SeededPair(BaseModel):
    question: str
    answer: str

    @field_validator("question", "answer")
    @classmethod
    def _nfc_text(cls, v: str) -> str:
        return unicodedata.normalize("NFC", v).strip()


class SeededPairs(BaseModel):
    pairs: list[SeededPair] = Field(min_length=1)


OUTPUT_MODELS: dict[str, type[BaseModel]] = {
    m.__name__: m for m in (QuestionParaphrases, AnswerParaphrases, Keywords, SeededPairs)
}
