"""The sandbox web application (Starlette): every route of `CONTRACT.md`.

`create_app(site)` builds the ASGI app around one `Site` (content + run-time state). Responses
carry the site's fixed clock in `Date` (relative dates such as "3일 전" are relative to it).
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crawler.sandbox import boards
from crawler.sandbox.site import HTTP_DATE, KST, LIST_PER, NOW, Comment, Question, Site, iso
from foundation.errors import ConfigError

TEMPLATES = Path(__file__).resolve().parent / "templates"
COMMENTS_PER_PAGE = 10
SITEMAP_CHUNK = 1000
ORDERS = [("recent", "최신순"), ("popular", "인기순"), ("answered", "최근 답변순")]
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
ROBOTS = """User-agent: *
Disallow: /users/
Disallow: /questions/new
Disallow: /*/report
Disallow: /_sandbox/
Allow: /

Sitemap: {base}/sitemap.xml
"""


# ----------------------------------------------------------------------------- formatting


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


BADGES = {"expert": "전문가", "seller": "판매자"}


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


# ----------------------------------------------------------------------------- responses


def respond(
    body: str | bytes, status: int = 200, ctype: str = "text/html; charset=utf-8", headers=None
) -> Response:
    h = {"Date": HTTP_DATE}
    if headers:
        h.update(headers)
    return Response(body, status_code=status, media_type=None, headers={**h, "Content-Type": ctype})


def respond_json(data: object, status: int = 200, headers=None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return respond(body, status, "application/json; charset=utf-8", headers)


def not_found(what: str = "페이지를 찾을 수 없습니다") -> Response:
    return respond(f"<!DOCTYPE html><html><body><h1>{what}</h1></body></html>", 404)


def bad_request(msg: str) -> Response:
    return respond(
        f"<!DOCTYPE html><html><body><h1>잘못된 요청입니다</h1><p>{html.escape(msg)}</p></body></html>", 400
    )


class ShortBodyResponse(Response):
    """Declares a Content-Length larger than the body it sends (the connection then closes)."""

    async def __call__(self, scope, receive, send) -> None:
        body = self.body
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"date", HTTP_DATE.encode()),
                        (b"content-length", str(len(body)).encode())],
        })  # fmt: skip
        # more_body and then nothing: the server closes the connection mid-body
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})


def _int(value: str | None, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: not a number") from None
    if n < 1:
        raise ValueError(f"{name}={n}: must be ≥ 1")
    return n


# ----------------------------------------------------------------------------- the app


def create_app(site: Site) -> Starlette:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals.update(iso=iso, long_date=long_date, count=count)

    def render(name: str, **ctx) -> str:
        return env.get_template(name).render(**ctx)

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def fault(q: Question, kind: str, request: Request) -> Response | None:
        """The question's fault for this request, or None to serve it normally."""
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

    # -- robots, sitemaps

    async def robots(request: Request) -> Response:
        return respond(ROBOTS.format(base=base_url(request)), ctype="text/plain; charset=utf-8")

    def sitemap_questions() -> list[Question]:
        return sorted((q for q in site.questions.values() if not q.deleted), key=lambda q: q.id)

    async def sitemap_index(request: Request) -> Response:
        qs = sitemap_questions()
        base = base_url(request)
        parts = []
        for i in range(max(1, math.ceil(len(qs) / SITEMAP_CHUNK))):
            chunk = qs[i * SITEMAP_CHUNK : (i + 1) * SITEMAP_CHUNK]
            newest = max(q.lastmod for q in chunk)
            parts.append(
                f"<sitemap><loc>{base}/sitemaps/questions-{i + 1}.xml</loc><lastmod>{iso(newest)}</lastmod></sitemap>"
            )
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                + "".join(parts) + "</sitemapindex>")  # fmt: skip
        return respond(body, ctype="application/xml; charset=utf-8")

    async def sitemap_urls(request: Request) -> Response:
        n = request.path_params["n"]
        qs = sitemap_questions()
        chunk = qs[(n - 1) * SITEMAP_CHUNK : n * SITEMAP_CHUNK]
        if n < 1 or not chunk:
            return not_found()
        base = base_url(request)
        urls = "".join(
            f"<url><loc>{base}/questions/{q.id}</loc><lastmod>{iso(q.lastmod)}</lastmod></url>" for q in chunk
        )
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                + urls + "</urlset>")  # fmt: skip
        return respond(body, ctype="application/xml; charset=utf-8")

    # -- lists

    def list_params(request: Request, default_per: int) -> tuple[int, int, str, str, bool]:
        qp = request.query_params
        page = _int(qp.get("page"), 1, "page")
        per = min(_int(qp.get("per"), default_per, "per"), 100)
        order = qp.get("order") or "recent"
        if order not in dict(ORDERS):
            raise ValueError(f"order={order!r}: use one of {', '.join(dict(ORDERS))}")
        return page, per, order, (qp.get("query") or "").strip(), qp.get("no_answer") in ("1", "true")

    async def question_list(request: Request) -> Response:
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

    async def question_list_json(request: Request) -> Response:
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

    # -- questions

    def lookup(request: Request) -> Question | None:
        return site.questions.get(request.path_params["qid"])

    def react_props(q: Question) -> str:
        props = {"question": question_json(q), "comments": [comment_json(c) for c in q.comments],
                 "comment_total": len(q.comments)}  # fmt: skip
        raw = json.dumps(props, ensure_ascii=False, separators=(",", ":"))
        if q.fault == "truncated_props":
            raw = raw[: len(raw) // 2]
        return html.escape(raw, quote=True)

    def render_question(q: Question, request: Request) -> str:
        if q.deleted:
            props = html.escape(
                json.dumps({"question": {"id": q.id, "is_deleted": True}, "comments": []}), quote=True
            )
            return render(
                "deleted.html", title="삭제된 질문입니다", canonical=None, props=_Markup(props), qid=q.id
            )
        feed = [comment_li(c) for c in q.comments[:COMMENTS_PER_PAGE]]
        return render(
            "question.html", title=q.title, canonical=f"{base_url(request)}/questions/{q.id}", q=q,
            props=_Markup(react_props(q)), feed=feed,
            comment_pages=max(1, math.ceil(len(q.comments) / COMMENTS_PER_PAGE)),
        )  # fmt: skip

    async def question_page(request: Request) -> Response:
        q = lookup(request)
        if q is None or q.deleted == "hard":
            return not_found()
        if q.members_only:
            return respond("", 302, headers={"Location": f"/users/sign_in?redirect_to=/questions/{q.id}"})
        failed = await fault(q, "html", request)
        if failed is not None:
            return failed
        return respond(render_question(q, request))

    async def question_json_route(request: Request) -> Response:
        q = lookup(request)
        if q is None or q.deleted == "hard":
            return respond_json({"error": "not found"}, 404)
        if q.members_only:
            return respond_json({"error": "login required"}, 401)
        failed = await fault(q, "json", request)
        if failed is not None:
            return failed
        body = json.dumps(question_json(q), ensure_ascii=False, separators=(",", ":"))
        if q.fault == "truncated_props":
            body = body[: len(body) // 2]
        return respond(body, ctype="application/json; charset=utf-8")

    async def comments_json(request: Request) -> Response:
        q = lookup(request)
        if q is None or q.deleted:
            return respond_json({"error": "not found"}, 404)
        if q.members_only:
            return respond_json({"error": "login required"}, 401)
        try:
            page = _int(request.query_params.get("page"), 1, "page")
            per = min(_int(request.query_params.get("per"), COMMENTS_PER_PAGE, "per"), 100)
        except ValueError as exc:
            return respond_json({"error": str(exc)}, 400)
        if q.fault == "always500":
            return respond("<h1>500 Internal Server Error</h1>", 500)
        items, nxt = comment_page(q, page, per)
        return respond_json({"total_count": len(q.comments), "page": page, "per": per, "next_page": nxt,
                             "comments": [comment_json(c) for c in items]})  # fmt: skip

    async def trailing_slash(request: Request) -> Response:
        path = request.url.path.rstrip("/") or "/"
        query = f"?{request.url.query}" if request.url.query else ""
        return respond("", 301, headers={"Location": path + query})

    async def report(request: Request) -> Response:
        return respond("<h1>신고하기</h1><form method='post'><textarea name='reason'></textarea></form>")

    async def new_question(request: Request) -> Response:
        return respond("<h1>질문하기</h1><form method='post'><input name='title'></form>")

    # -- users

    async def sign_in(request: Request) -> Response:
        return respond("<!DOCTYPE html><html><body><h1>로그인</h1><form action='/users/sign_in' method='post'>"
                       "<input name='email'><input name='password' type='password'></form></body></html>")  # fmt: skip

    async def user_page(request: Request) -> Response:
        uid = request.path_params["uid"]
        return respond(
            f"<!DOCTYPE html><html><body><h1 class='profile__name'>사용자 {uid}</h1></body></html>"
        )

    # -- JavaScript-only pages and the Next.js variant

    async def spa_list(request: Request) -> Response:
        return respond(render("spa_list.html", c=site.classes(), per=10, delay_ms=300))

    async def spa_question(request: Request) -> Response:
        q = lookup(request)
        if q is None or q.deleted == "hard":
            return not_found()
        return respond(
            render("spa_question.html", c=site.classes(), qid=q.id, per=COMMENTS_PER_PAGE, delay_ms=300)
        )

    async def community_post(request: Request) -> Response:
        slug_id = request.path_params["slug_id"]
        head, _, tail = slug_id.rpartition("-")
        q = site.questions.get(int(tail)) if tail.isdigit() and head else None
        if q is None or q.deleted or q.members_only:
            return not_found()
        raw = next_data_json(q, slug_id)
        return respond(render("next_post.html", c=site.classes(), title=q.title, data=raw))

    # -- faults on demand

    async def fault_500(request: Request) -> Response:
        return respond("<h1>500 Internal Server Error</h1>", 500)

    async def fault_503(request: Request) -> Response:
        key = request.query_params.get("key", "default")
        if site.hit(f"fault503:{key}") <= 2:
            return respond("<h1>503</h1>", 503, headers={"Retry-After": "1"})
        return respond("<h1>OK after two 503s</h1>")

    async def fault_429(request: Request) -> Response:
        after = request.query_params.get("retry_after", "1")
        return respond('{"error":"too many requests"}', 429, "application/json", {"Retry-After": after})

    async def fault_slow(request: Request) -> Response:
        try:
            seconds = min(float(request.query_params.get("s", site.slow_s)), 60.0)
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

    # -- images

    async def image(request: Request) -> Response:
        return respond(GIF, ctype="image/gif")

    # -- admin (loopback only): edits for incremental recrawl tests, markup churn

    def loopback(request: Request) -> bool:
        return request.client is None or request.client.host in (
            "127.0.0.1",
            "::1",
            "localhost",
            "testclient",
        )

    async def admin_edit(request: Request) -> Response:
        if not loopback(request):
            return respond_json({"error": "loopback only"}, 403)
        qid = request.path_params["qid"]
        try:
            q = site.edit(qid, add_comment=request.query_params.get("add_comment") in ("1", "true"))
        except ConfigError as exc:  # not a live question
            return respond_json({"error": str(exc)}, 404)
        return respond_json({"id": q.id, "revision": q.revision, "title": q.title, "lastmod": iso(q.lastmod),
                             "comment_count": len(q.comments)})  # fmt: skip

    async def admin_churn(request: Request) -> Response:
        if not loopback(request):
            return respond_json({"error": "loopback only"}, 403)
        try:
            value = int(request.query_params.get("value", site.churn + 1))
        except ValueError:
            return respond_json({"error": "value must be an integer"}, 400)
        site.set_churn(value)
        return respond_json({"churn": site.churn})

    async def admin_state(request: Request) -> Response:
        return respond_json({"questions": len(site.questions), "published_late_post": site.published,
                             "churn": site.churn, "hits": site.hits, "now": iso(NOW)})  # fmt: skip

    routes = [
        Route("/robots.txt", robots),
        Route("/sitemap.xml", sitemap_index),
        Route("/sitemaps/questions-{n:int}.xml", sitemap_urls),
        Route("/questions", question_list),
        Route("/questions/", trailing_slash),
        Route("/questions.json", question_list_json),
        Route("/questions/new", new_question),
        Route("/questions/{qid:int}.json", question_json_route),
        Route("/questions/{qid:int}/comments.json", comments_json),
        Route("/questions/{qid:int}/report", report),
        Route("/questions/{qid:int}", question_page),
        Route("/questions/{qid:int}/", trailing_slash),
        Route("/users/sign_in", sign_in),
        Route("/users/{uid:int}", user_page),
        Route("/spa/questions", spa_list),
        Route("/spa/questions/{qid:int}", spa_question),
        Route("/community/posts/{slug_id}", community_post),
        Route("/faults/500", fault_500),
        Route("/faults/503", fault_503),
        Route("/faults/429", fault_429),
        Route("/faults/slow", fault_slow),
        Route("/faults/truncated.json", fault_truncated),
        Route("/faults/short", fault_short),
        Route("/faults/login", fault_login),
        Route("/static/img/{path:path}", image),
        Route("/_sandbox/questions/{qid:int}/edit", admin_edit, methods=["POST"]),
        Route("/_sandbox/churn", admin_churn, methods=["POST"]),
        Route("/_sandbox/state", admin_state),
        *boards.routes(respond),
    ]

    if site.era is not None:
        from types import SimpleNamespace

        from crawler.sandbox import eras

        def render_feed(q: Question, shown: list[Comment]) -> str:
            pages = max(1, math.ceil(len(q.comments) / COMMENTS_PER_PAGE))
            buttons = ""
            if pages > 1:
                buttons = '<ul class="comment-feed__paginator">' + "".join(
                    f'<li><button type="button" class="comment-feed__paginator__page" data-page="{p}">{p}</button></li>'
                    for p in range(1, pages + 1)) + "</ul>"  # fmt: skip
            return (f'<section class="comment-feed" data-question-id="{q.id}"><h1 class="comment-feed__header">댓글 '
                    f'<span class="comment-feed__header__count">{len(q.comments)}</span></h1><ul class="comment-feed__list">'
                    + "".join(comment_li(c) for c in shown) + f"</ul>{buttons}</section>")  # fmt: skip

        def page(title: str, body: str) -> str:
            return render("era_page.html", title=title, canonical=None, body=_Markup(body))

        def next_data(q: Question, slug_id: str) -> str:
            return next_data_json(q, slug_id)

        helpers = SimpleNamespace(
            render=render, respond=respond, respond_json=respond_json, not_found=not_found,
            bad_request=bad_request, fault=fault, count=count, long_date=long_date, short_date=short_date,
            excerpt=excerpt, react_props=react_props, Markup=_Markup, int_param=_int, ORDERS=ORDERS,
            question_list_json=question_list_json, question_json_route=question_json_route,
            comments_json=comments_json, render_feed=render_feed, page=page, next_data=next_data,
        )  # fmt: skip
        replaced = {"/questions", "/questions.json", "/questions/{qid:int}.json", "/questions/{qid:int}/comments.json",
                    "/questions/{qid:int}", "/spa/questions", "/spa/questions/{qid:int}",
                    "/community/posts/{slug_id}"}  # fmt: skip
        routes = eras.routes(site, helpers) + [r for r in routes if r.path not in replaced]

    async def fallback(request: Request, exc: Exception) -> Response:
        return not_found()

    app = Starlette(routes=routes, exception_handlers={404: fallback})
    app.state.site = site
    wrapped = RateLimit(app, site) if site.rate_limit else app
    if site.redesign is not None:
        from crawler.sandbox.redesign import Redesign

        wrapped = Redesign(wrapped, site.redesign)
    return RequestLog(wrapped, site) if site.request_log is not None else wrapped


class _Markup(str):
    """A string Jinja must not escape again (already entity-escaped)."""

    def __html__(self) -> str:
        return self


class RequestLog:
    """ASGI middleware: every request's arrival time, method, path?query and (once answered) status
    into `site.request_log` (status 0 while unanswered, e.g. a slow page the client gave up on)."""

    def __init__(self, app, site: Site) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        entry = self.site.log_request(scope["method"], scope["path"] + (f"?{query}" if query else ""))

        async def logged_send(message) -> None:
            if message["type"] == "http.response.start":
                entry[3] = message["status"]
            await send(message)

        await self.app(scope, receive, logged_send)


class RateLimit:
    """ASGI middleware: a token bucket per client address; an empty bucket gives 429 + Retry-After."""

    def __init__(self, app, site: Site) -> None:
        self.app = app
        self.site = site
        self.state = getattr(app, "state", None)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sandbox/"):
            client = (scope.get("client") or ("?", 0))[0]
            wait = self.site.take_token(client, time.monotonic())
            if wait > 0:
                response = respond('{"error":"rate limited"}', 429, "application/json",
                                   {"Retry-After": str(max(1, math.ceil(wait)))})  # fmt: skip
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
