"""The question pages: `/questions/{id}` (members-only ones redirect to sign-in), the
JavaScript-only `/spa/questions/{id}`, the Next.js `/community/posts/{slug}-{id}`, the pages
around them (report, new question, trailing slashes) and the sign-in and user pages they link to."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from crawler.sandbox.payloads import COMMENTS_PER_PAGE, next_data_json
from crawler.sandbox.render import render, render_question
from crawler.sandbox.responses import not_found, respond, site_of
from crawler.sandbox.routes.faults import question_fault


async def question_page(request: Request) -> Response:
    q = site_of(request).questions.get(request.path_params["qid"])
    if q is None or q.deleted == "hard":
        return not_found()
    if q.members_only:
        return respond("", 302, headers={"Location": f"/users/sign_in?redirect_to=/questions/{q.id}"})
    failed = await question_fault(q, "html", request)
    if failed is not None:
        return failed
    return respond(render_question(q, request))


async def spa_question(request: Request) -> Response:
    site = site_of(request)
    q = site.questions.get(request.path_params["qid"])
    if q is None or q.deleted == "hard":
        return not_found()
    return respond(
        render("spa_question.html", c=site.classes(), qid=q.id, per=COMMENTS_PER_PAGE, delay_ms=300)
    )


async def community_post(request: Request) -> Response:
    site = site_of(request)
    slug_id = request.path_params["slug_id"]
    head, _, tail = slug_id.rpartition("-")
    q = site.questions.get(int(tail)) if tail.isdigit() and head else None
    if q is None or q.deleted or q.members_only:
        return not_found()
    raw = next_data_json(q, slug_id)
    return respond(render("next_post.html", c=site.classes(), title=q.title, data=raw))


async def trailing_slash(request: Request) -> Response:
    path = request.url.path.rstrip("/") or "/"
    query = f"?{request.url.query}" if request.url.query else ""
    return respond("", 301, headers={"Location": path + query})


async def report(request: Request) -> Response:
    return respond("<h1>신고하기</h1><form method='post'><textarea name='reason'></textarea></form>")


async def new_question(request: Request) -> Response:
    return respond("<h1>질문하기</h1><form method='post'><input name='title'></form>")


async def sign_in(request: Request) -> Response:
    return respond("<!DOCTYPE html><html><body><h1>로그인</h1><form action='/users/sign_in' method='post'>"
                   "<input name='email'><input name='password' type='password'></form></body></html>")  # fmt: skip


async def user_page(request: Request) -> Response:
    uid = request.path_params["uid"]
    return respond(f"<!DOCTYPE html><html><body><h1 class='profile__name'>사용자 {uid}</h1></body></html>")
