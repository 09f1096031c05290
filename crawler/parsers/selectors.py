"""The era selectors: each field of a list card, a question page and a comment as 오늘의집
marked it up in 2019 (Rails BEM), 2021 (React: `qna-detail__*`, `comment-feed__*`, emotion
classes) and 2024 (Next.js hashed classes), described in `../shared/research/ohouse-site.md`.

Selectors use stable parts only: ids, BEM names, the component name inside emotion classes
(`[class*="QuestionTitle"]`), data-* attributes — never a hash. Each field is a list in order of
preference; the first selector that matches wins. When none matches (the next redesign), the
spider turns to the structural fallback, `crawler/parsers/generic.py`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from crawler.normalize import parse_count, parse_korean_datetime

# a question's link on a list page: /questions/{id} (2019, 2021) or /community/posts/{slug}-{id} (2024)
QUESTION_HREF = re.compile(r"/questions/(\d+)(?=[/?#]|$)|/community/posts/(?:[^/?#]*-)?(\d+)(?=[/?#]|$)")
# list cards of every era: 2021 emotion, 2019 Rails BEM (the link wraps the card), 2024 Next.js posts
LIST_CARDS = '[class*="QuestionContainer"], a.questions-item__link, li.question-list__item, [data-post-id], [data-pinned]'


USER_HREF = re.compile(r"/users/(\d+)(?:[/?#]|$)")
DETAIL_ROOT = "article#page, .qna-detail, [data-post-id]"
# each a list in order of preference: the first selector that matches wins (a comma list would
# give the first match in document order, e.g. 2021's `div.qna-detail__content` around the title)
Q_TITLE = [
    "#question-name", ".question__content__header__name", "h1.qna-detail__content__header-title",
    ".qna-detail__title", '[class*="QuestionTitle"]', '[class*="PostTitle"]',
]  # fmt: skip
Q_BODY = [
    "section.question__content__body", "section.qna-detail__content__body", ".qna-detail__content",
    '[class*="QuestionBody"]', '[class*="PostContent"]',
]  # fmt: skip
Q_CATEGORY = [
    ".question__category", ".qna-detail__content__header-category", ".qna-detail__category",
    '[class*="PostCategory"]',
]  # fmt: skip
# the question's own keywords only: never an aside's or a sidebar's popular keywords
Q_KEYWORDS = [
    ".question__content ul.keyword-list a", "ul.keyword-list a", "ul.qna-detail__footer__keyword-list a",
    ".qna-detail__keyword", '[class*="PostKeywords"] a', '[class*="KeywordItem"]',
]  # fmt: skip
Q_AUTHOR = [
    "address.question__author", "address.qna-detail-author", ".qna-detail__author",
    '[class*="PostWriter"]:not([class*="PostWriterName"])',
]  # fmt: skip
Q_AUTHOR_NAME = '[class*="__name"], [class*="summary-nickname"], [class*="WriterName"]'
Q_TIME = [
    "time.question__content__footer__date", ".qna-detail__footer__metadata time", "time.qna-detail__date",
    'time[class*="PostDate"]',
]  # fmt: skip
Q_VIEWS = [
    '[class*="footer__view"]', ".qna-detail__footer__metadata-view-count-value", ".qna-detail__views",
    '[class*="PostViewCount"]', '[class*="ViewCount"]',
]  # fmt: skip
Q_SCRAPS = [
    '[class*="footer__scrap"]', ".qna-detail__footer__metadata-scrap-count-value", ".qna-detail__scraps",
    '[class*="ScrapCount"]',
]  # fmt: skip
COMMENT_COUNT = '.comment-feed__header__count, .qna-comment-feed__count, [class*="CommentCount"]'
C_CONTENT = '.comment-feed__item__content__content, .qna-comment__content, [class*="CommentContent"]'
C_AUTHOR = '.comment-feed__item__content__author, .qna-comment__author, [class*="CommentWriter"]'
C_AUTHOR_NAME = '[class*="author__name"], [class*="WriterName"]'
C_BADGE = '[class*="__badge"], [class*="CommentBadge"]'
C_ADOPTED = '[class*="__adopted"], [class*="AdoptedLabel"]'
C_LIKES = '[class*="likes__count"], [class*="like__count"], [class*="CommentLike"] span'
BADGE_NAMES = {"전문가": "expert", "판매자": "seller", "expert": "expert", "seller": "seller"}
LEADING_MENTION = re.compile(r"^(<[^>]+>)\s*<a\b[^>]*>\s*@[^<]*</a>\s*")


# ----------------------------------------------------------------------------- list pages


@dataclass
class Cards:
    links: list[tuple[str, str, int | None]] = field(default_factory=list)  # (id, href, comments stated)
    notices: int = 0


def list_cards(response) -> Cards | None:
    """The question cards of a list page (pinned notices left out), or None when no card selector
    matches."""
    cards = response.css(LIST_CARDS)
    if not cards:
        return None
    out = Cards()
    for card in cards:
        if is_notice(card):
            out.notices += 1
            continue
        hrefs = [card.attrib.get("href") or ""] + card.css("a::attr(href)").getall()
        href = next((h for h in hrefs if QUESTION_HREF.search(h)), None)
        m = QUESTION_HREF.search(href or "")
        if not m:
            continue
        texts = card.css("::text").getall()
        stated = next(
            (parse_count(t) for t in texts if ("댓글" in t or "답글" in t) and any(c.isdigit() for c in t)),
            None,
        )  # "댓글 3" (2021, 2024) or "답글 3" (2019)
        out.links.append((m.group(1) or m.group(2), href, stated))
    return out


# ----------------------------------------------------------------------------- question pages


def question_fields(response, now) -> dict:
    """A detail page of any era → its fields and the comments it renders (in the order they were
    written: nested replies come after their parent in the DOM, not where they belong in time)."""
    page = response.css(DETAIL_ROOT) or response
    author = first(page, Q_AUTHOR)
    author_href = next(
        (h for h in author.css("a::attr(href), ::attr(href)").getall() if USER_HREF.search(h)), ""
    )
    uid = USER_HREF.search(author_href)
    name = author.css(Q_AUTHOR_NAME)
    time_el = first(page, Q_TIME)
    title = first(page, Q_TITLE)
    return {
        "title": title[0].xpath("string()").get() if title else None,
        "body": first(page, Q_BODY).get(),
        "category": first(page, Q_CATEGORY).xpath("normalize-space()").get() or None,
        "keywords": [k.xpath("normalize-space()").get() for k in own_keywords(page)],
        "author_id": uid.group(1) if uid else None,
        "author_name": (name.xpath("normalize-space()").get() if name else None)
        or (author.xpath("normalize-space()").get() if author else None)
        or page.css('[class*="PostWriterName"]').xpath("normalize-space()").get(),  # no link: withdrawn
        "posted_at": when(time_el[0], now) if time_el else None,
        "view_count": first(page, Q_VIEWS).xpath("normalize-space()").get(),
        "scrap_count": first(page, Q_SCRAPS).xpath("normalize-space()").get(),
        "comments": in_written_order(comments_from_html(response, now)),
    }


def stated_total(response) -> int | None:
    """How many comments the page says the question has: the feed's count, `data-comment-count`,
    the props of 2019's empty `CommentFeed` mount point (`total_count`, `count`), the Kakao share
    data (`#kakaoTemplateData[data-comment_count]`), else what the page's structure states (a
    "댓글 N" heading, any JSON attribute with a count: `generic.stated_comment_count`)."""
    from crawler.parsers import generic

    text = response.css(COMMENT_COUNT).xpath("normalize-space()").get()
    total = parse_count(text) if text else None
    if total is None:
        total = parse_count(response.css("[data-comment-count]::attr(data-comment-count)").get())
    if total is None:
        for raw in response.css('[data-react-class="CommentFeed"]::attr(data-react-props)').getall():
            try:
                props: Any = json.loads(raw)
            except ValueError:
                continue
            if isinstance(props, dict):
                key = next(
                    (k for k in ("total_count", "commentCount", "comment_count", "count") if k in props), None
                )
                total = parse_count(props[key]) if key else None
            if total is not None:
                break
    if total is None:
        total = parse_count(response.css("#kakaoTemplateData::attr(data-comment_count)").get())
    if total is None:
        total = generic.stated_comment_count(response.selector.root)
    return total


# ----------------------------------------------------------------------------- helpers and comments


def first(page, selectors: list[str]):
    """The matches of the first selector in `selectors` that matches (an empty SelectorList else)."""
    for css in selectors:
        found = page.css(css)
        if found:
            return found
    return page.css("_no_such_element_")


def own_keywords(page):
    """The question's keyword links: the first keyword selector that matches outside asides and
    navigation (a sidebar repeats the popular keywords in the same markup)."""
    for css in Q_KEYWORDS:
        found = [k for k in page.css(css) if not k.xpath("ancestor::aside | ancestor::nav")]
        if found:
            return found
    return []


def is_notice(card) -> bool:
    """A pinned notice card (every era pins the same 공지 on each list page)."""
    cls = (card.attrib.get("class") or "").lower()
    if "notice" in cls or "pinned" in cls or card.attrib.get("data-pinned") in ("true", "1"):
        return True
    return bool(card.css('[class*="Notice"], [class*="notice"], [class*="Pinned"], [data-pinned]'))


def when(el, now):
    """`<time datetime>` first, then its Korean text ("2019년 05월 14일 09:30", "2024.05.14"),
    then relative forms ("3일 전", "어제") against the response's Date."""
    dt = parse_korean_datetime(el.attrib.get("datetime"), now) if el.attrib.get("datetime") else None
    return dt or parse_korean_datetime(el.xpath("normalize-space()").get(), now)


# a rendered comment: `data-comment-id`, or the comment element of each era's markup (the real
# pages' comments do not always carry their id)
_TOKEN = "contains(concat(' ', normalize-space(@class), ' '), ' {} ')"
IS_COMMENT = " or ".join([
    "@data-comment-id",
    _TOKEN.format("comment-feed__item"),
    _TOKEN.format("qna-comment"),
    "contains(concat(normalize-space(@class), ' '), '-CommentItem ')",
])  # fmt: skip


def _depth(el, axis: str = "ancestor") -> int:
    return len(el.xpath(f"{axis}::*[{IS_COMMENT}]"))


def _own(node, css: str):
    """The first element under comment `node` matching `css` that belongs to this comment, not to
    a reply nested inside it."""
    depth = _depth(node, "ancestor-or-self")
    for el in node.css(css):
        if _depth(el) == depth:
            return el
    return None


def comments_from_html(response, now) -> list[dict]:
    """Every comment the page renders, in document order. A comment without an id gets a stable
    one made from what it shows (`h` + 16 hex of author, time and text); a reply's parent is its
    `data-parent-id` or the comment it is nested in."""
    out: list[dict] = []
    ids: dict[Any, str] = {}  # lxml element → external id
    for node in response.xpath(f"//*[{IS_COMMENT}]"):
        c = comment_from_html(node, now)
        ids[node.root] = c["external_id"]
        if c["parent_external_id"] is None:
            parents = node.xpath(f"ancestor::*[{IS_COMMENT}][1]")
            if not parents:  # 2021: `li > article` with the replies in a list beside the article
                lis = node.xpath("ancestor::li")
                if len(lis) >= 2:
                    parents = lis[-2].xpath(f"descendant-or-self::*[{IS_COMMENT}][1]")
            if parents:
                c["parent_external_id"] = ids.get(parents[0].root)
        out.append(c)
    return out


def synthetic_id(c: dict) -> str:
    key = "\x1f".join(str(c.get(k) or "") for k in ("author_id", "author_name", "posted_at", "body"))
    return "h" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def in_written_order(comments: list[dict]) -> list[dict]:
    """Comments by id when every id is a number (ids grow with time; nested replies come after
    their parent in the DOM, not where they belong in time), else as found."""
    if all(str(c["external_id"]).isdigit() for c in comments):
        return sorted(comments, key=lambda c: int(c["external_id"]))
    return comments


def likes_zero(node) -> int | None:
    """0 when the comment's like button says so without a number (2021: `…__likes--zero`)."""
    return 0 if _own(node, '[class*="likes--zero"], [class*="likes-zero"]') is not None else None


def comment_from_html(node, now) -> dict:
    """A rendered comment of any era → a comment dict (the parent only from `data-parent-id`; see
    `comments_from_html`). A reply's leading `@mention` anchor (its addressee, already kept as the
    parent) is not part of the text."""
    parent = node.attrib.get("data-parent-id")
    cls = node.attrib.get("class") or ""
    content = _own(node, C_CONTENT)
    body = content.get() if content is not None else None
    deleted = "--deleted" in cls or node.attrib.get("data-deleted") in ("true", "1")
    if not deleted and content is not None:
        deleted = (
            content.xpath("normalize-space()").get() == "삭제된 댓글입니다" and _own(node, C_AUTHOR) is None
        )
    if body:
        body = LEADING_MENTION.sub(r"\1", body, count=1)
    author = _own(node, C_AUTHOR)
    if author is None:  # the first profile link of this comment that is not an @mention
        own_depth = _depth(node, "ancestor-or-self")
        author = next(
            (a for a in node.css('a[href*="/users/"]')
             if _depth(a) == own_depth and "sign_in" not in (a.attrib.get("href") or "")
             and not (a.xpath("normalize-space()").get() or "").startswith("@")),
            None,
        )  # fmt: skip
    href = (
        (author.attrib.get("href") or author.css("a::attr(href)").get() or "") if author is not None else ""
    )
    uid = USER_HREF.search(href)
    name_el = _own(node, C_AUTHOR_NAME)
    name = name_el.xpath("normalize-space()").get() if name_el is not None else None
    if name is None and author is not None:
        name = author.xpath("normalize-space()").get()
    badge_el = _own(node, C_BADGE)
    badge = None
    if badge_el is not None:
        badge = BADGE_NAMES.get(badge_el.attrib.get("data-badge") or "")
        badge = badge or next(
            (v for k, v in BADGE_NAMES.items() if f"--{k}" in (badge_el.attrib.get("class") or "")), None
        )
        badge = badge or BADGE_NAMES.get(badge_el.xpath("normalize-space()").get() or "")
    likes = _own(node, C_LIKES)
    time_el = _own(node, "time")
    c = {
        "external_id": node.attrib.get("data-comment-id"),
        "parent_external_id": parent,
        "body": body,
        "author_id": uid.group(1) if uid else None,
        "author_name": None if deleted else name,
        "author_badge": None if deleted else badge,
        "is_adopted": not deleted and _own(node, C_ADOPTED) is not None,
        "like_count": likes.xpath("normalize-space()").get() if likes is not None else likes_zero(node),
        "posted_at": when(time_el, now) if time_el is not None else None,
        "is_deleted": deleted,
    }
    if not c["external_id"]:
        c["external_id"] = synthetic_id(c)
    return c
