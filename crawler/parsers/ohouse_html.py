"""오늘의집's HTML pages → fields: a list page's question links and its last page, a question page's
fields and stated comment count, and whether a page says the question was deleted.

Each reads the page through the era selectors (`selectors.py`) first and, when none of them
matches, through the structural fallback (`generic.py`). Functions here read; the spider
(`crawler/spiders/ohouse.py`) counts what they found in the crawl stats.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from crawler.normalize import html_to_text, parse_count
from crawler.parsers import generic, selectors

HTML_LIST_PER = 20  # cards per HTML list page (fixed by the site; the JSON endpoint takes `per`)
DELETED_TEXTS = ("삭제된 질문", "삭제된 게시글", "삭제되었거나 존재하지 않")


# ----------------------------------------------------------------------------- list pages


@dataclass
class ListLinks:
    """The question links of a list page and how they were read: `path` is `html` (an era's card
    selector matched), `generic` (the structural fallback found links) or None (no link at all)."""

    links: list[tuple[str, str, int | None]] = field(default_factory=list)  # (id, href, comments stated)
    notices: int = 0  # pinned notices left out
    path: str | None = None


def list_links(response) -> ListLinks:
    """(question id, href, comment count the card states) of each card, notices left out: by the
    era selectors, else by the structural fallback (every question link in the main content)."""
    cards = selectors.list_cards(response)
    if cards is not None:
        return ListLinks(cards.links, cards.notices, "html")
    out = ListLinks()
    for link in generic.question_links(response.selector.root):
        if link["notice"]:
            out.notices += 1
        else:
            out.links.append((link["qid"], link["href"], link["comments"]))
    out.path = "generic" if out.links else None
    return out


def last_list_page(response, cards: int) -> int | None:
    """The last list page the page states: its paginator's links, or `data-total` (questions;
    `data-per` per page, else this page's card count), or `data-total-pages`; None when it does
    not say (walk on until an empty page)."""
    hrefs = response.css('[class*="Paginator"] a::attr(href), [class*="paginator"] a::attr(href)').re(
        r"[?&]page=(\d+)"
    )
    if hrefs:
        return max(int(n) for n in hrefs)
    nav = response.css("[data-total-pages], [data-total]")
    if nav:
        pages = parse_count(nav.attrib.get("data-total-pages"))
        if pages is not None:
            return pages
        total = parse_count(nav.attrib.get("data-total"))
        per = parse_count(nav.attrib.get("data-per")) or max(cards, HTML_LIST_PER)
        if total is not None and per:
            return max(1, math.ceil(total / per))
    return None


# ----------------------------------------------------------------------------- question pages


def is_deleted_page(response) -> bool:
    """The page says the question was deleted ("삭제된 질문입니다", …)."""
    text = " ".join(
        response.css("h1 ::text, .deleted ::text, [class*='Deleted'] ::text, p ::text").getall()[:20]
    )
    return any(t in text for t in DELETED_TEXTS)


def question_fields(response, now) -> tuple[dict, int | None]:
    """A detail page of any era through the era selectors → (its fields with `comment_count`, the
    number of comments the page says there are; None when it does not say)."""
    fields = selectors.question_fields(response, now)
    total = selectors.stated_total(response)
    fields["comment_count"] = len(fields["comments"]) if total is None else total
    return fields, total


def question_from_structure(response, now) -> dict | None:
    """The structural fallback's fields of a question page (comments in written order); None when
    it finds neither a title nor a body either."""
    got = generic.question(response.selector.root, now)
    if got is None:
        return None
    got["comments"] = selectors.in_written_order(got["comments"])
    return got


def main_heading(response) -> str | None:
    """The page's main `<h1>` (see `generic.main_heading`)."""
    return generic.main_heading(response.selector.root)


def first_sentence(body_html: str | None) -> str:
    """The first sentence of a body's first non-empty line (at most 100 characters); '' when the
    body holds no text."""
    text = html_to_text(body_html) or ""
    first_line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    m = re.match(r"(.+?[.?!。？！])(\s|$)", first_line)
    return (m.group(1) if m else first_line)[:100]
