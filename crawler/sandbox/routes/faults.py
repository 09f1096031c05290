"""Faults: a question's own (`Question.fault`: always 500, 503 twice, 429 once, slow, a body cut
short) and the faults on demand under `/faults/` (500, 503 twice per key, 429, slow, truncated
JSON, a short body, a redirect to the sign-in page)."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import Response

from crawler.sandbox.content import Question
from crawler.sandbox.render import render_question
from crawler.sandbox.responses import ShortBodyResponse, bad_request, respond, site_of


async def question_fault(q: Question, kind: str, request: Request) -> Response | None:
    """The question's fault for this request (`kind`: `html` or `json`), or None to serve it
    normally."""
    site = site_of(request)
    if q.fault == "always500":
        return respond("<h1>500 Internal Server Error</h1>", 500)
    if q.fault == "flaky503" and site.hit(f"{kind}:{q.id}") <= 2:
        return respond("<h1>503 Service Unavailable</h1>", 503, headers={"Retry-After": "1"})
    if q.fault == "rate429" and site.hit(f"{kind}:{q.id}") == 1:
        return respond('{"error":"too many requests"}', 429, "application/json", {"Retry-After": "1"})
    if q.fault == "slow":
        await asyncio.sleep(site.slow_s)
    if q.fault == "short_body" and kind == "html" and site.hit(f"{kind}:{q.id}") == 1:
        return ShortBodyResponse(render_question(q, request).encode("utf-8"))
    return None


async def fault_500(request: Request) -> Response:
    return respond("<h1>500 Internal Server Error</h1>", 500)


async def fault_503(request: Request) -> Response:
    key = request.query_params.get("key", "default")
    if site_of(request).hit(f"fault503:{key}") <= 2:
        return respond("<h1>503</h1>", 503, headers={"Retry-After": "1"})
    return respond("<h1>OK after two 503s</h1>")


async def fault_429(request: Request) -> Response:
    after = request.query_params.get("retry_after", "1")
    return respond('{"error":"too many requests"}', 429, "application/json", {"Retry-After": after})


async def fault_slow(request: Request) -> Response:
    try:
        seconds = min(float(request.query_params.get("s", site_of(request).slow_s)), 60.0)
    except ValueError:
        return bad_request("s must be a number of seconds")
    await asyncio.sleep(seconds)
    return respond(f"<h1>slow: {seconds:g} s</h1>")


async def fault_truncated(request: Request) -> Response:
    body = json.dumps(
        {"total_count": 3, "questions": [{"id": 1, "title": "잘린 응답"}] * 3}, ensure_ascii=False
    )
    return respond(body[: len(body) // 2], ctype="application/json; charset=utf-8")


async def fault_short(request: Request) -> Response:
    return ShortBodyResponse(("<html><body>" + "짧게 잘린 본문 " * 200 + "</body></html>").encode())


async def fault_login(request: Request) -> Response:
    return respond("", 302, headers={"Location": "/users/sign_in?redirect_to=/faults/login"})
