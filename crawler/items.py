"""What the spiders yield, as pydantic models.

Spiders yield plain dicts (they pickle into JOBDIR and feed-export as they are); the first
pipeline validates them into these models, so a bad item is dropped with a reason
(`drop_item/<spider>/<reason>` in the crawl stats) before anything reaches the database.
Text fields are normalised on the way in (HTML → text, NFC, zero-width characters removed),
counts accept "1.2만"/"1,234", dates must already be aware datetimes or ISO strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from crawler.normalize import clean_text, html_to_text, parse_count, parse_korean_datetime


def _text(value: object) -> str | None:
    if value is None:
        return None
    return clean_text(str(value)) or None


def _line(value: object) -> str | None:
    """One-line text (titles): markup and entities decoded, even double-escaped ones; breaks → spaces."""
    if value is None:
        return None
    text = html_to_text(str(value)) or ""
    return " ".join(text.split()) or None


def _html(value: object) -> str | None:
    if value is None:
        return None
    return html_to_text(str(value)) or ""


def _count(value: object) -> int | None:
    return parse_count(value)


def _datetime(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else parse_korean_datetime(value)
    parsed = parse_korean_datetime(value)
    if parsed is None:
        raise ValueError(f"unparseable date {value!r}")
    return parsed


Text = Annotated[str | None, BeforeValidator(_text)]
Line = Annotated[str | None, BeforeValidator(_line)]
HtmlText = Annotated[str | None, BeforeValidator(_html)]
Count = Annotated[Annotated[int, Field(ge=0)] | None, BeforeValidator(_count)]
When = Annotated[datetime | None, BeforeValidator(_datetime)]


class CommentItem(BaseModel):
    """A comment (answer) on a question; replies carry their parent's external id."""

    model_config = ConfigDict(extra="ignore")

    external_id: Annotated[str, BeforeValidator(lambda v: str(v) if v is not None else v)] = Field(
        min_length=1
    )
    parent_external_id: Annotated[
        str | None, BeforeValidator(lambda v: None if v in (None, "") else str(v))
    ] = None
    body: HtmlText = None
    author_id: Text = None
    author_name: Text = None
    author_badge: Text = None
    is_adopted: bool = False
    like_count: Count = None
    posted_at: When = None
    is_deleted: bool = False


class QuestionItem(BaseModel):
    """One question with all its comments, as a spider yields it (`kind: "question"`).

    A deleted question (soft: "삭제된 질문입니다"; hard: 404 after being listed) is an item with
    `is_deleted=True` and usually no title: it marks the stored row deleted and keeps its text.
    """

    model_config = ConfigDict(extra="ignore")

    kind: Literal["question"] = "question"
    source: str = Field(min_length=1, max_length=100)
    external_id: Annotated[str, BeforeValidator(lambda v: str(v) if v is not None else v)] = Field(
        min_length=1, max_length=200
    )
    url: str = Field(min_length=1)
    title: Line = None
    body: HtmlText = None
    category: Text = None
    keywords: list[str] = Field(default_factory=list)
    author_id: Text = None
    author_name: Text = None
    posted_at: When = None
    view_count: Count = None
    comment_count: Count = None
    scrap_count: Count = None
    like_count: Count = None
    is_deleted: bool = False
    lastmod: str | None = Field(None, description="the sitemap's lastmod when found through a sitemap")
    comments_incomplete: bool = Field(
        False, description="the page said there are more comments than could be fetched (no comment JSON)"
    )
    comments_incomplete_reason: str | None = Field(
        None, description="why comments are missing: the count the page states and what answered"
    )
    title_from_body: bool = Field(
        False, description="no title was found on the page: the body's first sentence stands in"
    )
    comments: list[CommentItem] = Field(default_factory=list)

    @field_validator("keywords", mode="before")
    @classmethod
    def _keywords(cls, value: object) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        out: list[str] = []
        for kw in value:  # type: ignore[union-attr]
            kw = (clean_text(str(kw)) or "").lstrip("#").strip()
            if kw and kw not in out:
                out.append(kw)
        return out

    @model_validator(mode="after")
    def _live_needs_title(self) -> QuestionItem:
        if not self.is_deleted and not self.title:
            raise ValueError("missing_title")
        seen: set[str] = set()
        unique = []
        for c in self.comments:  # the same comment on two comment pages is one comment
            if c.external_id not in seen:
                seen.add(c.external_id)
                unique.append(c)
        self.comments = unique
        return self


def drop_reason(exc: Exception) -> str:
    """A short, stable reason for a validation failure: `missing_title`, `invalid_external_id`, …"""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.errors():
        err = exc.errors()[0]
        msg = str(err.get("msg", ""))
        if "missing_title" in msg:
            return "missing_title"
        loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
        field = "_".join(loc) or "item"
        kind = err.get("type", "invalid")
        if kind in ("missing", "string_too_short") or (kind == "string_type" and err.get("input") is None):
            return f"missing_{field}"
        return f"invalid_{field}"
    return type(exc).__name__
