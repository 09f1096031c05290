"""오늘의집's JSON → spider item dicts: the payloads of its endpoints (`/questions.json`,
`/questions/{id}.json`, `comments.json`) and the JSON embedded in its pages (`data-react-props`,
`__NEXT_DATA__`), in the snake_case Rails shape and the camelCase Next.js one.

Functions here read and map; the spider (`crawler/spiders/ohouse.py`) decides what a missing or
broken payload means and counts it.
"""

from __future__ import annotations

import html
import json
from typing import Any

from crawler.normalize import parse_count, parse_korean_datetime


def _first(d: dict, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if key in d and d[key] is not None:
            return d[key]
    return default


def question_from_json(q: dict, comments: list[dict], source: str, url: str, now) -> dict:
    """The sandbox/ohouse JSON shapes (snake_case Rails, camelCase Next.js) → a spider item dict."""
    writer = _first(q, "writer", "user", "author", default={}) or {}
    if "profile" in writer:  # Next.js: writer.profile.nickname
        writer = {**writer, **(writer.get("profile") or {})}
    return {
        "kind": "question",
        "source": source,
        "external_id": str(q["id"]),
        "url": url,
        "title": _first(q, "title", "name"),
        "body": _first(q, "body_html", "body", "description", "content", default=_components(q)),
        "category": _first(q, "category"),
        "keywords": _first(q, "keywords", "tags", default=[]),
        "author_id": None if writer.get("id") is None else str(writer["id"]),
        "author_name": _first(writer, "nickname", "name"),
        "posted_at": parse_korean_datetime(_first(q, "created_at", "createdAt"), now),
        "view_count": _first(q, "view_count", "viewCount"),
        "comment_count": _first(q, "comment_count", "commentCount", default=len(comments)),
        "scrap_count": _first(q, "scrap_count", "scrapCount"),
        "like_count": _first(q, "like_count", "likeCount"),
        "is_deleted": bool(_first(q, "is_deleted", "isDeleted", "deleted", default=False)),
        "comments": [comment_from_json(c, now) for c in comments],
    }


def _components(q: dict) -> str | None:
    """Next.js `components`: plain-text TEXT paragraphs (line breaks inside) → paragraph HTML."""
    parts = q.get("components")
    if parts is None:
        return None  # not the Next.js shape
    return "".join(
        "<p>"
        + html.escape(p.get("text") or p.get("content") or "", quote=False).replace("\n", "<br>")
        + "</p>"
        for p in parts
        if p.get("componentType", "TEXT") == "TEXT"
    )


def comment_from_json(c: dict, now) -> dict:
    """A comment in the Rails shape (`parent_id`, `is_adopted`) or the Next.js one (`parentId`, …)."""
    writer = _first(c, "writer", "user", "author", default={}) or {}
    parent = _first(c, "parent_id", "parentId")
    return {
        "external_id": str(c["id"]),
        "parent_external_id": None if parent is None else str(parent),
        "body": _first(c, "body_html", "body", "content"),
        "author_id": None if writer.get("id") is None else str(writer["id"]),
        "author_name": _first(writer, "nickname", "name"),
        "author_badge": writer.get("badge"),
        "is_adopted": bool(_first(c, "is_adopted", "isAdopted", default=False)),
        "like_count": _first(c, "like_count", "likeCount"),
        "posted_at": parse_korean_datetime(_first(c, "created_at", "createdAt"), now),
        "is_deleted": bool(_first(c, "is_deleted", "isDeleted", default=False)),
    }


# ----------------------------------------------------------------------------- endpoint payloads


def list_payload(text: str) -> tuple[list[dict], int]:
    """`/questions.json` → (its questions, `total_count`); ValueError, KeyError or TypeError when
    it is broken."""
    data = json.loads(text)
    return data["questions"], int(data.get("total_count") or 0)


def question_payload(text: str) -> dict | None:
    """`/questions/{id}.json` → the question, or None when the answer is no question (not JSON,
    not an object, no id)."""
    try:
        q = json.loads(text)
    except ValueError:
        return None
    return q if isinstance(q, dict) and q.get("id") is not None else None


def comments_payload(text: str, now) -> tuple[list[dict], Any] | None:
    """A `comments.json` page → (its comments, `next_page`); None when it holds no comment list;
    ValueError, KeyError or TypeError when it is broken."""
    data = json.loads(text)
    if not isinstance(data, dict):
        return None
    return [comment_from_json(c, now) for c in data["comments"]], data.get("next_page")


# ----------------------------------------------------------------------------- embedded in pages


def embedded_json(response) -> tuple[dict | None, int]:
    """(the page's own data, how many embedded payloads before it were broken JSON): the
    `data-react-props` of the App (or any props holding a `question`), or Next.js' `__NEXT_DATA__`
    post. Other React mount points (2019's `CommentFeed`, whose props carry only a count) are not
    the question."""
    raws = response.css('[data-react-class="App"]::attr(data-react-props)').getall()
    raws += [
        r
        for r in response.css("[data-react-props]::attr(data-react-props)").getall()
        if '"question"' in r and r not in raws
    ]
    raws += response.css("script#__NEXT_DATA__::text").getall()
    # a redesign renames attributes and ids, not the payloads: any attribute or JSON script
    raws += [r for r in response.xpath("//@*[starts-with(normalize-space(.), '{')]").getall()
             if '"question"' in r and r not in raws]  # fmt: skip
    raws += [r for r in response.css('script[type="application/json"]::text').getall() if r not in raws]
    broken = 0
    for raw in raws:
        try:
            data = json.loads(raw)
        except ValueError:
            broken += 1
            continue
        if not isinstance(data, dict):
            continue
        props = ((data.get("props") or {}).get("pageProps") or {}).get("dehydratedState") or {}
        queries = props.get("queries")
        if queries:  # Next.js: props.pageProps.dehydratedState.queries[].state.data.post
            for query in queries:
                post = ((query.get("state") or {}).get("data") or {}).get("post")
                if post:
                    return {"question": post, "comments": post.get("comments", [])}, broken
            continue
        if "question" in data or "title" in data:
            return data, broken
    return None, broken


def embedded_question(data: dict) -> tuple[dict, list[dict] | None]:
    """Embedded data (see `embedded_json`) → (the question, its comments; None when the data holds
    none)."""
    q = data.get("question") or data
    comments = data.get("comments")
    if isinstance(comments, dict):
        comments = comments.get("comments") or comments.get("items") or []
    return q, comments


def embedded_total(data: dict) -> int | None:
    """The number of comments embedded data states; None when it does not say."""
    return parse_count(data.get("comment_total") or (data.get("comments_meta") or {}).get("total_count"))
