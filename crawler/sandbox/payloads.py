"""The sandbox's JSON shapes: what the API routes answer and what pages embed (`data-react-props`,
`__NEXT_DATA__`), in the snake_case Rails shape and the camelCase Next.js one."""

from __future__ import annotations

import html
import json

from crawler.sandbox.content import Comment, Question, iso

COMMENTS_PER_PAGE = 10


def excerpt(text: str, n: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[:n] + "…"


def writer_json(w, with_badge: bool = False) -> dict | None:
    if w is None:
        return None
    out = {"id": w.id, "nickname": w.nickname}
    if with_badge:
        out["badge"] = w.badge
    return out


def q_date(q: Question) -> str:
    return q.display_at or iso(q.created_at)


def c_date(c: Comment) -> str:
    return c.display_at or iso(c.created_at)


def question_summary(q: Question) -> dict:
    """One entry of `/questions.json`."""
    return {
        "id": q.id,
        "title": q.raw_title,
        "description": excerpt(q.text),
        "created_at": q_date(q),
        "view_count": q.view_count,
        "comment_count": len(q.comments),
        "scrap_count": q.scrap_count,
        "keywords": q.keywords,
        "image_url": q.images[0] if q.images else None,
        "writer": writer_json(q.writer),
    }


def question_json(q: Question) -> dict:
    """`/questions/{id}.json` and the `question` of `data-react-props`."""
    if q.deleted:
        return {"id": q.id, "is_deleted": True}
    return {
        "id": q.id,
        "title": q.raw_title,
        "body_html": q.raw_html,
        "created_at": q_date(q),
        "view_count": q.view_count,
        "comment_count": len(q.comments),
        "scrap_count": q.scrap_count,
        "keywords": q.keywords,
        "category": q.category,
        "images": q.images,
        "writer": writer_json(q.writer),
        "is_deleted": False,
        "url": f"/questions/{q.id}",
    }


def comment_json(c: Comment) -> dict:
    if c.is_deleted:
        return {"id": c.id, "body_html": "삭제된 댓글입니다", "created_at": c_date(c), "like_count": c.like_count,
                "parent_id": c.parent_id, "is_deleted": True, "is_adopted": False, "writer": None}  # fmt: skip
    return {
        "id": c.id,
        "body_html": c.raw_html,
        "created_at": c_date(c),
        "like_count": c.like_count,
        "parent_id": c.parent_id,
        "is_deleted": False,
        "is_adopted": c.is_adopted,
        "writer": writer_json(c.writer, with_badge=True),
    }


def comment_page(q: Question, page: int, per: int) -> tuple[list[Comment], int | None]:
    """Comments of page `page` (1-based) and the next page number. With `comment_page_overlap`
    every page after the first starts with the last comment of the previous page."""
    start = (page - 1) * per
    if q.comment_page_overlap and page > 1:
        start -= 1
    end = page * per
    items = q.comments[max(start, 0) : end]
    return items, page + 1 if end < len(q.comments) else None


def react_props(q: Question) -> str:
    """The App's `data-react-props` (the question and every comment), entity-escaped for the
    attribute; cut in half for a question with the `truncated_props` fault."""
    props = {"question": question_json(q), "comments": [comment_json(c) for c in q.comments],
             "comment_total": len(q.comments)}  # fmt: skip
    raw = json.dumps(props, ensure_ascii=False, separators=(",", ":"))
    if q.fault == "truncated_props":
        raw = raw[: len(raw) // 2]
    return html.escape(raw, quote=True)


def next_data_json(q: Question, slug_id: str) -> str:
    """The `__NEXT_DATA__` of a community post (the whole post, every comment)."""
    post = {
        "id": q.id,
        "title": q.title,
        "components": [{"componentType": "TEXT", "text": p} for p in q.text.split("\n\n") if p]
        + [{"componentType": "IMAGE", "url": u} for u in q.images],
        "category": q.category,
        "keywords": q.keywords,
        "writer": {"id": q.writer.id, "profile": {"nickname": q.writer.nickname}},
        "createdAt": iso(q.created_at),
        "viewCount": q.view_count,
        "likeCount": None,
        "scrapCount": q.scrap_count,
        "commentCount": len(q.comments),
        "comments": [
            {"id": c.id, "content": None if c.is_deleted else c.raw_html, "createdAt": iso(c.created_at),
             "likeCount": c.like_count, "parentId": c.parent_id, "isAdopted": c.is_adopted,
             "isDeleted": c.is_deleted, "writer": None if c.is_deleted else writer_json(c.writer, True)}
            for c in q.comments
        ],
    }  # fmt: skip
    data = {
        "props": {"pageProps": {"dehydratedState": {"mutations": [], "queries": [
            {"queryKey": ["community", "user"], "state": {"data": {"loggedIn": False}}},
            {"queryKey": ["community", "post", q.id], "state": {"data": {"post": post}, "status": "success"}},
        ]}}},
        "page": "/community/posts/[slug]",
        "query": {"slug": slug_id},
        "buildId": "sandbox",
    }  # fmt: skip
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
