"""The question lists in HTML: `/questions` (20 cards a page, a paginator of 10 pages, the order
and keyword filters) and the JavaScript-only `/spa/questions`."""

from __future__ import annotations

import html
import math
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from crawler.sandbox.content import LIST_PER
from crawler.sandbox.payloads import excerpt
from crawler.sandbox.render import count, render, short_date
from crawler.sandbox.responses import bad_request, int_param, respond, site_of

ORDERS = [("recent", "최신순"), ("popular", "인기순"), ("answered", "최근 답변순")]


def list_params(request: Request, default_per: int) -> tuple[int, int, str, str, bool]:
    """(page, per, order, query, no_answer) of a list request; ValueError naming a bad one."""
    qp = request.query_params
    page = int_param(qp.get("page"), 1, "page")
    per = min(int_param(qp.get("per"), default_per, "per"), 100)
    order = qp.get("order") or "recent"
    if order not in dict(ORDERS):
        raise ValueError(f"order={order!r}: use one of {', '.join(dict(ORDERS))}")
    return page, per, order, (qp.get("query") or "").strip(), qp.get("no_answer") in ("1", "true")


async def question_list(request: Request) -> Response:
    site = site_of(request)
    try:
        page, _, order, query, no_answer = list_params(request, LIST_PER)
    except ValueError as exc:
        return bad_request(str(exc))
    qs = site.listed(order, query, no_answer)
    rows = qs[(page - 1) * LIST_PER : page * LIST_PER]
    cards = []
    for i, q in enumerate(rows):
        href = f"/questions/{q.id}"
        if i % 3 == 1:  # share links with tracking parameters (the same page)
            href += "?" + urlencode({"affect_id": 0, "affect_type": "QuestionIndex", "query": query})
        title = q.raw_title if len(q.title) <= 60 else html.escape(q.title[:60], quote=False) + "…"
        cards.append({
            "id": q.id, "href": href, "title": title, "description": excerpt(q.text),
            "author": q.writer.nickname, "date": q.display_at or short_date(q.created_at),
            "comments": len(q.comments), "views": count(q.view_count) if q.view_count is not None else "-",
            "keywords": q.keywords, "image": q.images[0] if q.images else None,
        })  # fmt: skip
    last = max(1, math.ceil(len(qs) / LIST_PER))
    params = {"query": query} if query else {}
    if order != "recent":
        params["order"] = order
    if no_answer:
        params["no_answer"] = "1"

    def link(p: int) -> str:
        return "/questions?" + urlencode({**params, "page": p})

    first = (min(page, last) - 1) // 10 * 10 + 1
    pages = [
        {"href": link(p), "label": str(p), "current": p == page}
        for p in range(first, min(first + 9, last) + 1)
    ]
    if first > 1:
        pages.insert(0, {"href": link(first - 1), "label": "이전", "current": False})
    if first + 10 <= last:
        pages.append({"href": link(first + 10), "label": "다음", "current": False})
    body = render("list.html", title="질문과답변", canonical=None, c=site.classes(), notices=site.notices,
                  cards=cards, pages=pages, orders=ORDERS, order=order, query=query)  # fmt: skip
    if page == 1:
        site.publish_late_post()
    return respond(body)


async def spa_list(request: Request) -> Response:
    return respond(render("spa_list.html", c=site_of(request).classes(), per=10, delay_ms=300))
