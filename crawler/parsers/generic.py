"""The structural fallback (`generic` parse path): a question page or a list page read from the
document's structure and semantics alone — no class, id or `data-*` name — for when the site was
redesigned and no selector of `crawler/parsers/selectors.py` matches.

- **title**: the first `<h1>` outside navigation, asides, footers and lists (a comment feed's
  "댓글 3" header is none), else `og:title`, else `<title>` without the site suffix (" | …");
- **body**: the first block element (`section`, `div`, `article`, `p`, …) that follows the title at
  the nearest level and holds no `<time>`, no profile link and not only links;
- **author**: the first `/users/{id}` link after the title that is no comment's (a withdrawn
  author: the `<address>` text); **time**: the first `<time>`, else Korean date text;
  **views/scraps**: "조회 N" / "스크랩 N"; **keywords**: `?query=` links after the body, outside
  asides (a sidebar's popular keywords are no question's); **category**: a `?query=` link before
  the title in its header;
- **comments**: the list items (`li`) of every list that holds a profile link after the body —
  deleted and withdrawn comments are the list's other items; nested lists are replies; a comment's
  id is its first attribute holding a whole number, its parent the enclosing comment or a second
  such attribute naming an earlier comment;
- **list pages**: every `/questions/{id}` (or `/community/posts/…-{id}`) link in the main content;
  a card with a "공지" label is a pinned notice.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree
from parsel import Selector

from crawler.normalize import parse_count, parse_korean_datetime
from crawler.parsers.selectors import LEADING_MENTION, synthetic_id, when

QUESTION_HREF = re.compile(r"/questions/(\d+)(?=[/?#]|$)|/community/posts/(?:[^/?#]*-)?(\d+)(?=[/?#]|$)")
USER_HREF = re.compile(r"/users/(\d+)(?:[/?#]|$)")
OUTSIDE = ("nav", "aside", "footer", "header")  # site chrome around the main content
BLOCKS = {"section", "div", "article", "p", "main", "blockquote"}
NOT_BODY = {"a", "time", "button", "footer", "form", "script", "style", "template", "noscript"}
LABELS = {"전문가", "판매자", "채택", "채택된 답변", "공지", "답글 달기", "신고"}
BADGES = {"전문가": "expert", "판매자": "seller"}
COMMENT_HEADER = re.compile(r"^\s*(댓글|답글)\s*([\d,]+)")
DATE_TEXT = re.compile(
    r"\d{4}년\s*\d{1,2}월\s*\d{1,2}일(?:\s*\d{1,2}:\d{2})?|\d{4}\.\d{1,2}\.\d{1,2}|\d+\s*(?:분|시간|일)\s*전|방금 전|어제"
)
COUNT_KEYS = ("total_count", "comment_total", "commentCount", "comment_count", "count")


def _tag(el) -> str:
    return el.tag.lower() if isinstance(el.tag, str) else ""


def _text(el) -> str:
    return " ".join("".join(el.itertext()).split())


def _html(el) -> str:
    return etree.tostring(el, encoding=str, method="html", with_tail=False)


def _inside(el, tags: tuple[str, ...]) -> bool:
    return any(_tag(a) in tags for a in el.iterancestors())


def _user_link(a) -> re.Match | None:
    href = a.get("href") or ""
    if "sign_in" in href or _text(a).startswith("@"):
        return None
    return USER_HREF.search(href)


def _doc_index(root) -> dict:
    return {el: i for i, el in enumerate(root.iter())}


# ----------------------------------------------------------------------------- list pages


def _qid(href: str) -> str | None:
    m = QUESTION_HREF.search(href)
    return (m.group(1) or m.group(2)) if m else None


def question_links(root) -> list[dict]:
    """Every question linked from the main content, in order: `{"href", "qid", "comments",
    "notice"}` (one per question; the card is the largest ancestor linking to no other question)."""
    out: list[dict] = []
    seen: set[str] = set()
    for a in root.iter("a"):
        href = a.get("href") or ""
        qid = _qid(href)
        if qid is None or _inside(a, ("nav", "aside", "footer")):
            continue
        if qid in seen:
            continue
        seen.add(qid)
        card = a
        for up in a.iterancestors():
            ids = {_qid(x.get("href") or "") for x in up.iter("a")} - {None}
            if len(ids) > 1 or _tag(up) in ("body", "main", "html"):
                break
            card = up
        texts = [t.strip() for t in card.itertext() if t.strip()]
        notice = any(t in ("공지", "[공지]") for t in texts) or any(t.startswith("[공지]") for t in texts)
        comments = next((parse_count(t) for t in texts if re.match(r"^(댓글|답글)\s*[\d,]+", t)), None)
        out.append({"href": href, "qid": qid, "comments": comments, "notice": notice})
    return out


# ----------------------------------------------------------------------------- question pages


def _site_chrome(h1) -> bool:
    """A heading of the site, not of the content: in a `<header>` outside `main`/`article`/`section`,
    or only a link home (a logo)."""
    ups = {_tag(a) for a in h1.iterancestors()}
    if "header" in ups and not {"main", "article", "section"} & ups:
        return True
    links = list(h1.iter("a"))
    return (
        len(links) == 1
        and (links[0].get("href") or "").rstrip("/") in ("", "/")
        and _text(links[0]) == _text(h1)
    )


def _title_element(root):
    for h1 in root.iter("h1"):
        if (
            _inside(h1, ("nav", "aside", "footer", "li"))
            or COMMENT_HEADER.match(_text(h1))
            or _site_chrome(h1)
        ):
            continue
        if _text(h1):
            return h1
    return None


def main_heading(root) -> str | None:
    """The text of the page's main `<h1>` (see `_title_element`), if any."""
    h1 = _title_element(root)
    return _text(h1) if h1 is not None else None


def meta_title(root) -> str | None:
    """`og:title`, else `<title>` without the site's suffix (" | 오늘의집", " - …")."""
    for meta in root.iter("meta"):
        if (meta.get("property") or meta.get("name")) == "og:title" and (meta.get("content") or "").strip():
            return meta.get("content").strip()
    for t in root.iter("title"):
        text = _text(t)
        for sep in (" | ", " - ", " :: "):
            if sep in text:
                text = text.rsplit(sep, 1)[0]
        return text or None
    return None


def _is_body(el) -> bool:
    if _tag(el) not in BLOCKS:
        return False
    if any(True for _ in el.iter("time")) or any(_user_link(a) for a in el.iter("a")):
        return False
    if el.find(".//h1") is not None:
        return False
    links = "".join(_text(a) for a in el.iter("a"))
    return not (links and len(links.replace(" ", "")) >= len(_text(el).replace(" ", "")))


def _body_element(title):
    node = title
    while node is not None and _tag(node) not in ("body", "html"):
        for sib in node.itersiblings():
            if _is_body(sib):
                return sib
        node = node.getparent()
    return None


def _dense_block(root):
    """No title to start from: the block with the most text of its own (links not counted) that
    could be a body, descending while one child block holds nearly all of it."""

    def score(el) -> int:
        return len(_text(el)) - len("".join(_text(a) for a in el.iter("a")))

    best, best_score = None, 0
    for el in root.iter():
        if _tag(el) in BLOCKS and not _inside(el, ("nav", "aside", "footer", "li", "form")) and _is_body(el):
            n = score(el)
            if n > best_score:
                best, best_score = el, n
    while best is not None:
        inner = [c for c in best if _tag(c) in BLOCKS and score(c) >= 0.9 * best_score]
        if len(inner) != 1 or not _is_body(inner[0]):
            break
        best = inner[0]
    return best


def _comment_blocks(root, after: int, index: dict) -> list:
    """The `li`s of every list holding a profile link after document position `after`."""
    lists: list = []
    for a in root.iter("a"):
        if index.get(a, -1) <= after or not _user_link(a):
            continue
        li = next((x for x in a.iterancestors() if _tag(x) == "li"), None)
        if li is not None and li.getparent() is not None and li.getparent() not in lists:
            lists.append(li.getparent())
    blocks = [li for lst in lists for li in lst if _tag(li) == "li" and _text(li)]
    return sorted(set(blocks), key=lambda el: index[el])


def _own(block, blocks: set):
    """Elements of comment `block`, without the comments nested in it."""
    stack = list(block)[::-1]
    while stack:
        el = stack.pop()
        if el in blocks or not isinstance(el.tag, str):
            continue
        yield el
        stack.extend(list(el)[::-1])


def _numeric_attrs(block, blocks: set) -> list[str]:
    out = []
    for el in [block, *[c for c in block if c not in blocks][:1]]:
        for name, value in el.attrib.items():
            if name not in ("href", "src", "alt") and value.isdigit():
                out.append(value)
    return out


def _comment(block, blocks: set, ids: dict, now) -> dict:
    own = list(_own(block, blocks))
    skip = set()
    for el in own:
        if _tag(el) in NOT_BODY:
            skip.update(el.iter())
    author = next((a for a in own if _tag(a) == "a" and _user_link(a)), None)
    candidates = []
    for el in own:
        if (
            el in skip
            or any(True for _ in el.iter("time"))
            or (author is not None and author in set(el.iter()))
        ):
            continue
        text = _text(el)
        if not text or text in LABELS or re.fullmatch(r"좋아요\s*[\d,]+", text):
            continue
        candidates.append((len(text), el))
    best = max((n for n, _ in candidates), default=0)
    content = next((el for n, el in candidates if n == best), None)
    body = _html(content) if content is not None else None
    if body:
        body = LEADING_MENTION.sub(r"\1", body, count=1)
    inside_content = set(content.iter()) if content is not None else set()
    labels = [_text(el) for el in own if el not in inside_content]
    deleted = author is None and content is not None and _text(content) == "삭제된 댓글입니다"
    name = None
    if author is not None:
        name = _text(author)
    elif not deleted:  # a withdrawn author: the first text before the content
        for el in own:
            if el in inside_content:
                break
            if el not in skip and el.text and el.text.strip() and el.text.strip() not in LABELS:
                name = el.text.strip()
                break
    time_el = next((el for el in own if _tag(el) == "time"), None)
    posted = when(Selector(root=time_el), now) if time_el is not None else None
    likes = next((m.group(1) for t in labels if (m := re.search(r"좋아요\s*([\d,]+)", t))), None)
    numbers = _numeric_attrs(block, blocks)
    parent = next((a.get("_gid") for a in block.iterancestors() if a in blocks), None)
    if parent is None:
        parent = next((n for n in numbers[1:] if n in ids.values()), None)
    c = {
        "external_id": numbers[0] if numbers else None,
        "parent_external_id": parent,
        "body": body,
        "author_id": (_user_link(author).group(1) if author is not None else None),
        "author_name": None if deleted else name,
        "author_badge": None if deleted else next((BADGES[t] for t in labels if t in BADGES), None),
        "is_adopted": not deleted and any(t in ("채택", "채택된 답변") for t in labels),
        "like_count": likes,
        "posted_at": posted,
        "is_deleted": deleted,
    }
    if not c["external_id"]:
        c["external_id"] = synthetic_id(c)
    return c


def comments(root, after: int, now, index: dict | None = None, blocks: list | None = None) -> list[dict]:
    index = index if index is not None else _doc_index(root)
    blocks = blocks if blocks is not None else _comment_blocks(root, after, index)
    as_set = set(blocks)
    ids: dict = {}
    out = []
    for block in blocks:
        c = _comment(block, as_set, ids, now)
        block.set("_gid", c["external_id"])  # for the replies nested in it
        ids[block] = c["external_id"]
        out.append(c)
    for block in blocks:
        del block.attrib["_gid"]
    return out


def _text_after(root, start: int, stop: int, index: dict, pattern: re.Pattern) -> re.Match | None:
    for el in root.iter():
        i = index.get(el, -1)
        if i <= start or i >= stop or not isinstance(el.tag, str) or _inside(el, ("aside", "nav")):
            continue
        for t in (el.text, el.tail):
            m = pattern.search(t or "") if t else None
            if m:
                return m
    return None


def question(root, now) -> dict | None:
    """The question fields the page's structure gives, with its `comments` (None: neither a
    title nor a body). Without an `<h1>`: the densest block is the body and `og:title`/`<title>`
    the title."""
    index = _doc_index(root)
    title_el = _title_element(root)
    if title_el is not None:
        title, body_el = _text(title_el), _body_element(title_el)
    else:
        body_el = _dense_block(root)
        title = meta_title(root) if body_el is not None else None
    if title is None and body_el is None:
        return None
    # the question's fields lie after its title (no title: from the body's container on)
    start = index[title_el] if title_el is not None else index[body_el.getparent()]
    body_end = max((index[e] for e in body_el.iter()), default=start) if body_el is not None else start
    blocks = _comment_blocks(root, body_end, index)
    feed = comments(root, body_end, now, index, blocks)
    stop = min((index[b] for b in blocks), default=len(index))
    in_comments = set()
    for b in blocks:
        in_comments.update(b.iter())

    def after_title(tag: str):
        for el in root.iter(tag):
            if start < index[el] < stop and el not in in_comments and not _inside(el, ("aside", "nav")):
                yield el

    author = next((a for a in after_title("a") if _user_link(a)), None)
    address = next(after_title("address"), None)
    name = _text(author) if author is not None else (_text(address) if address is not None else None)
    time_el = next(after_title("time"), None)
    posted = when(Selector(root=time_el), now) if time_el is not None else None
    if posted is None:
        m = _text_after(root, start, stop, index, DATE_TEXT)
        posted = parse_korean_datetime(m.group(0), now) if m else None

    def stated(label: str) -> str | None:  # "조회 1,234" or "조회 <span>1,234</span>"
        m = _text_after(root, start, stop, index, re.compile(label + r"\s*([\d,.]+만?)"))
        if m:
            return m.group(1)
        for el in after_title("*"):
            if (el.text or "").strip() == label and len(el):
                return _text(el[0]) or None
        return None

    keywords = [
        _text(a)
        for a in after_title("a")
        if "query=" in (a.get("href") or "") and index[a] > body_end and _text(a)
    ]
    category = None
    if title_el is not None and title_el.getparent() is not None:
        for a in title_el.getparent().iter("a"):
            if index[a] < start and "query=" in (a.get("href") or ""):
                category = _text(a)
    return {
        "title": title,
        "body": _html(body_el) if body_el is not None else None,
        "category": category,
        "keywords": keywords,
        "author_id": _user_link(author).group(1) if author is not None else None,
        "author_name": name,
        "posted_at": posted,
        "view_count": stated("조회"),
        "scrap_count": stated("스크랩"),
        "comments": feed,
    }


# ----------------------------------------------------------------------------- stated counts


def stated_comment_count(root) -> int | None:
    """How many comments the page says there are, from its structure: a "댓글 N"/"답글 N" heading,
    the JSON of any attribute (`count`/`total_count`/… of a React mount point), or an attribute
    named like `comment_count`."""
    for tag in ("h1", "h2", "h3", "h4"):
        for h in root.iter(tag):
            m = COMMENT_HEADER.match(_text(h))
            if m:
                return parse_count(m.group(2))
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for name, value in el.attrib.items():
            if value.lstrip().startswith("{") and "count" in value:
                try:
                    data: Any = json.loads(value)
                except ValueError:
                    continue
                if isinstance(data, dict) and not data.get("question"):
                    n = next((parse_count(data[k]) for k in COUNT_KEYS if data.get(k) is not None), None)
                    if n is not None:
                        return n
            elif re.search(r"comment[_-]?count", name):
                n = parse_count(value)
                if n is not None:
                    return n
    return None
