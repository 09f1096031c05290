"""The sandbox's HTML: the Jinja templates (`templates/`), the date and count formats the pages
show, and a question page with its comment feed (shared by the question routes, the faults and
the eras)."""

from __future__ import annotations

import html
import json
import math
from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request

from crawler.sandbox.content import KST, Comment, Question, iso
from crawler.sandbox.payloads import COMMENTS_PER_PAGE, react_props
from crawler.sandbox.responses import base_url

TEMPLATES = Path(__file__).resolve().parent / "templates"
BADGES = {"expert": "전문가", "seller": "판매자"}


def long_date(dt: datetime) -> str:
    """`2019년 05월 14일 09:30` (KST)."""
    return dt.astimezone(KST).strftime("%Y년 %m월 %d일 %H:%M")


def short_date(dt: datetime) -> str:
    return dt.astimezone(KST).strftime("%Y.%m.%d")


def count(n: int | None) -> str:
    """`1,234`, `1.2만` (10,000 and more)."""
    if n is None:
        return ""
    if n >= 10_000:
        s = f"{n / 10_000:.1f}".rstrip("0").rstrip(".")
        return f"{s}만"
    return f"{n:,}"


class Markup(str):
    """A string Jinja must not escape again (already entity-escaped)."""

    def __html__(self) -> str:
        return self


@cache
def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals.update(iso=iso, long_date=long_date, count=count)
    return env


def render(name: str, **ctx) -> str:
    return _templates().get_template(name).render(**ctx)


# ----------------------------------------------------------------------------- question pages


def comment_li(c: Comment) -> str:
    reply = " comment-feed__list__item--reply" if c.parent_id else ""
    parent = f' data-parent-id="{c.parent_id}"' if c.parent_id else ""
    if c.display_at:
        when = f'<time class="comment-feed__item__footer__time">{html.escape(c.display_at)}</time>'
    else:
        when = (f'<time class="comment-feed__item__footer__time" datetime="{iso(c.created_at)}">'
                f"{long_date(c.created_at)}</time>")  # fmt: skip
    if c.is_deleted:
        return (f'<li class="comment-feed__list__item{reply}"><article class="comment-feed__item '
                f'comment-feed__item--deleted" data-comment-id="{c.id}"{parent}><p class="comment-feed__item__content">'
                '<span class="comment-feed__item__content__content">삭제된 댓글입니다</span></p>'
                f'<footer class="comment-feed__item__footer">{when}<span class="comment-feed__item__footer__likes">좋아요 '
                f'<span class="comment-feed__item__footer__likes__count">{c.like_count}</span></span></footer></article></li>')  # fmt: skip
    w = c.writer
    badge = ""
    if w.badge:
        badge = (f'<span class="comment-feed__item__badge comment-feed__item__badge--{w.badge}">'
                 f"{BADGES[w.badge]}</span>")  # fmt: skip
    adopted = '<span class="comment-feed__item__adopted">채택된 답변</span>' if c.is_adopted else ""
    author = (f'<a class="comment-feed__item__content__author" href="/users/{w.id}">'
              f'<span class="comment-feed__item__content__author__name">{html.escape(w.nickname)}</span></a>')  # fmt: skip
    return (
        f'<li class="comment-feed__list__item{reply}"><article class="comment-feed__item" data-comment-id="{c.id}"'
        f'{parent}><p class="comment-feed__item__content">{author}{badge}'
        f'<span class="comment-feed__item__content__content">{c.raw_html}</span></p>'
        f'<footer class="comment-feed__item__footer">{when}<span class="comment-feed__item__footer__likes">좋아요 '
        f'<span class="comment-feed__item__footer__likes__count">{c.like_count}</span></span>{adopted}</footer>'
        "</article></li>"
    )


def render_question(q: Question, request: Request) -> str:
    """The default site's question page (a deleted question: its "삭제된 질문입니다" page)."""
    if q.deleted:
        props = html.escape(
            json.dumps({"question": {"id": q.id, "is_deleted": True}, "comments": []}), quote=True
        )
        return render(
            "deleted.html", title="삭제된 질문입니다", canonical=None, props=Markup(props), qid=q.id
        )
    feed = [comment_li(c) for c in q.comments[:COMMENTS_PER_PAGE]]
    return render(
        "question.html", title=q.title, canonical=f"{base_url(request)}/questions/{q.id}", q=q,
        props=Markup(react_props(q)), feed=feed,
        comment_pages=max(1, math.ceil(len(q.comments) / COMMENTS_PER_PAGE)),
    )  # fmt: skip


def feed_paginator(n_comments: int, per_page: int) -> str:
    """The comment feed's `<button>` pages (no hrefs: a browser's script loads them), or "" for one page."""
    pages = max(1, math.ceil(n_comments / per_page))
    if pages == 1:
        return ""
    return '<ul class="comment-feed__paginator">' + "".join(
        f'<li><button type="button" class="comment-feed__paginator__page" data-page="{p}">{p}</button></li>'
        for p in range(1, pages + 1)) + "</ul>"  # fmt: skip


def render_feed(q: Question, shown: list[Comment]) -> str:
    """The comment feed of an era's question page: `shown`, and `<button>` pages for the rest."""
    buttons = feed_paginator(len(q.comments), COMMENTS_PER_PAGE)
    return (f'<section class="comment-feed" data-question-id="{q.id}"><h1 class="comment-feed__header">댓글 '
            f'<span class="comment-feed__header__count">{len(q.comments)}</span></h1><ul class="comment-feed__list">'
            + "".join(comment_li(c) for c in shown) + f"</ul>{buttons}</section>")  # fmt: skip


def era_page(title: str, body: str) -> str:
    """An era's page around `body` (HTML already built)."""
    return render("era_page.html", title=title, canonical=None, body=Markup(body))
