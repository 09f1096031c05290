"""The JSON endpoints: `/questions.json` (a list page; page 3 answers cut-short JSON),
`/questions/{id}.json` and `/questions/{id}/comments.json` (10 comments a page)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from crawler.sandbox.content import LIST_PER
from crawler.sandbox.payloads import (
    COMMENTS_PER_PAGE,
    comment_json,
    comment_page,
    question_json,
    question_summary,
)
from crawler.sandbox.responses import int_param, respond, respond_json, site_of
from crawler.sandbox.routes.faults import question_fault
from crawler.sandbox.routes.lists import list_params


async def question_list_json(request: Request) -> Response:
    site = site_of(request)
    try:
        page, per, order, query, no_answer = list_params(request, LIST_PER)
    except ValueError as exc:
        return respond_json({"error": str(exc)}, 400)
    qs = site.listed(order, query, no_answer)
    data = {"total_count": len(qs), "page": page, "per": per,
            "questions": [question_summary(q) for q in qs[(page - 1) * per : page * per]]}  # fmt: skip
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if page == 1:
        site.publish_late_post()
    if page == 3:  # truncated JSON: cut in the middle of an object
        body = body[: len(body) // 2]
    return respond(body, ctype="application/json; charset=utf-8")


async def question_json_route(request: Request) -> Response:
    q = site_of(request).questions.get(request.path_params["qid"])
    if q is None or q.deleted == "hard":
        return respond_json({"error": "not found"}, 404)
    if q.members_only:
        return respond_json({"error": "login required"}, 401)
    failed = await question_fault(q, "json", request)
    if failed is not None:
        return failed
    body = json.dumps(question_json(q), ensure_ascii=False, separators=(",", ":"))
    if q.fault == "truncated_props":
        body = body[: len(body) // 2]
    return respond(body, ctype="application/json; charset=utf-8")


async def comments_json(request: Request) -> Response:
    q = site_of(request).questions.get(request.path_params["qid"])
    if q is None or q.deleted:
        return respond_json({"error": "not found"}, 404)
    if q.members_only:
        return respond_json({"error": "login required"}, 401)
    try:
        page = int_param(request.query_params.get("page"), 1, "page")
        per = min(int_param(request.query_params.get("per"), COMMENTS_PER_PAGE, "per"), 100)
    except ValueError as exc:
        return respond_json({"error": str(exc)}, 400)
    if q.fault == "always500":
        return respond("<h1>500 Internal Server Error</h1>", 500)
    items, nxt = comment_page(q, page, per)
    return respond_json({"total_count": len(q.comments), "page": page, "per": per, "next_page": nxt,
                         "comments": [comment_json(c) for c in items]})  # fmt: skip
