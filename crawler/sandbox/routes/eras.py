"""The routes of the sandbox in a real site's era (`dobae sandbox serve --era 2019|2021|2024`): its list,
question and JSON pages in that era's markup (`crawler/sandbox/eras.py` renders the parts), replacing the
default site's (`crawler.sandbox.app.ERA_REPLACES`)."""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crawler.sandbox.content import LIST_PER, NOW, Question, iso
from crawler.sandbox.eras import (
    POPULAR,
    SHOWN_COMMENTS,
    TAXONOMY,
    _e,
    _time,
    comment_feed,
    logged_out,
    page_window,
    post_comment,
    post_path,
    relative,
    shown_comments,
)
from crawler.sandbox.site import Site


def routes(site: Site, h) -> list[Route]:
    """The era's list, detail and JSON routes. `h` is the app's helper namespace (render, respond,
    respond_json, not_found, fault, question_json, comment_json, comment_page, count, long_date,
    short_date, excerpt, react_props, Markup)."""
    era = site.era
    c = site.classes

    def list_rows(request: Request):
        qp = request.query_params
        try:
            page = h.int_param(qp.get("page"), 1, "page")
        except ValueError as exc:
            return None, h.bad_request(str(exc))
        query = (qp.get("query") or "").strip()
        qs = site.listed("recent", query, False)
        rows = qs[(page - 1) * LIST_PER : page * LIST_PER]
        if page == 1:
            site.publish_late_post()
        return (page, query, qs, rows), None

    def card(q: Question, i: int, query: str) -> dict:
        href = f"/questions/{q.id}"
        if i % 3 == 1:
            href += "?" + urlencode({"affect_id": 0, "affect_type": "QuestionIndex", "query": query})
        title = q.raw_title if len(q.title) <= 60 else html.escape(q.title[:60], quote=False) + "…"
        return {"id": q.id, "href": href, "title": title, "description": h.excerpt(q.text),
                "author": q.writer.nickname, "date": q.display_at or h.short_date(q.created_at),
                "comments": len(q.comments), "views": h.count(q.view_count) if q.view_count is not None else "-",
                "keywords": q.keywords, "image": q.images[0] if q.images else None}  # fmt: skip

    # -- lists

    async def list_2019(request: Request) -> Response:
        got, err = list_rows(request)
        if err:
            return err
        page, query, qs, rows = got
        cards = []
        for q in rows:  # every card's link carries the tracking parameters
            tracked = urlencode({"affect_id": 0, "affect_type": "QuestionIndex", "query": query})
            title = q.raw_title if len(q.title) <= 60 else html.escape(q.title[:60], quote=False) + "…"
            cards.append({"id": q.id, "href": f"/questions/{q.id}?{tracked}", "title": title,
                          "description": h.excerpt(q.text), "author": q.writer.nickname,
                          "datetime": iso(q.created_at), "date": q.display_at or relative(q.created_at, NOW),
                          "comments": len(q.comments),
                          "views": h.count(q.view_count) if q.view_count is not None else "-",
                          "keywords": q.keywords, "image": q.images[0] if q.images else None})  # fmt: skip
        last, shown = page_window(page, len(qs))
        return h.respond(h.render("era2019_list.html", title="질문과답변", canonical=None, notices=site.notices,
                                  cards=cards, pages=list(shown), page=page, total=len(qs),
                                  taxonomy=TAXONOMY))  # fmt: skip

    async def list_2021(request: Request) -> Response:
        got, err = list_rows(request)
        if err:
            return err
        page, query, qs, rows = got
        cards = [card(q, i, query) for i, q in enumerate(rows)]
        last, shown = page_window(page, len(qs))
        pages = [{"label": str(p), "current": p == page} for p in shown]
        if shown.start + 10 <= last:
            pages.append({"label": "다음", "current": False})
        return h.respond(h.render("list.html", title="질문과답변", canonical=None, c=c(), notices=site.notices,
                                  cards=cards, pages=pages, orders=h.ORDERS, order="recent", query=query,
                                  buttons=True))  # fmt: skip

    async def list_2024(request: Request) -> Response:
        got, err = list_rows(request)
        if err:
            return err
        page, query, qs, rows = got
        k = c()
        parts = [f'<div id="__next"><main class="{k["PostFeed"]}">']
        for n in site.notices:
            parts.append(f'<article class="{k["PostCard"]}" data-pinned="true"><span class="{k["PinnedBadge"]}">공지</span>'
                         f'<a class="{k["PostCardLink"]}" href="/community/posts/notice-{n["id"]}">'
                         f'<h2 class="{k["PostCardTitle"]}">{_e(n["title"])}</h2></a></article>')  # fmt: skip
        for q in rows:
            title = q.raw_title if len(q.title) <= 60 else html.escape(q.title[:60], quote=False) + "…"
            parts.append(f'<article class="{k["PostCard"]}" data-post-id="{q.id}"><a class="{k["PostCardLink"]}" '
                         f'href="{post_path(q.id)}"><h2 class="{k["PostCardTitle"]}">{title}</h2></a>'
                         f'<span class="{k["PostCardStats"]}">댓글 {len(q.comments)}</span></article>')  # fmt: skip
        if not rows:
            parts.append(f'<p class="{k["EmptyResult"]}">게시글이 없습니다</p>')
        parts.append("</main></div>")
        return h.respond(h.page("커뮤니티", "".join(parts)))

    async def redirect_2024(request: Request) -> Response:
        query = f"?{request.url.query}" if request.url.query else ""
        return h.respond("", 301, headers={"Location": "/community/posts" + query})

    async def api_posts(request: Request) -> Response:
        got, err = list_rows(request)
        if err:
            return err
        page, query, qs, rows = got
        return h.respond_json(
            {
                "total_count": len(qs),
                "page": page,
                "posts": [
                    {"id": q.id, "title": q.title, "url": post_path(q.id), "commentCount": len(q.comments)}
                    for q in rows
                ],
            }
        )

    # -- details

    async def detail(request: Request, q: Question | None) -> Response:
        if q is None or q.deleted == "hard":
            return h.not_found()
        if q.members_only:
            return h.respond("", 302, headers={"Location": f"/users/sign_in?redirect_to=/questions/{q.id}"})
        failed = await h.fault(q, "html", request)
        if failed is not None:
            return failed
        return h.respond(render_detail(q))

    def render_detail(q: Question) -> str:
        if era == "2019":
            return detail_2019(q)
        if era == "2021":
            return detail_2021(q)
        return detail_2024(q)

    def detail_2019(q: Question) -> str:
        if q.deleted:
            return h.page("삭제된 질문입니다", f'<article id="page" class="question question--deleted" data-question-id="{q.id}">'
                          '<h1 class="question__deleted">삭제된 질문입니다</h1></article>')  # fmt: skip
        shown = shown_comments(site, q)
        out = logged_out(site, q)
        top = sum(1 for cm in q.comments if not cm.parent_id)
        props = h.Markup(html.escape(json.dumps(
            {"question_id": q.id, "count": top, "total_count": len(q.comments), "comment_name": "답글", "per": SHOWN_COMMENTS},
            ensure_ascii=False), quote=True))  # fmt: skip
        feed = ""
        if shown:  # the "DOM variant": the page as saved after React rendered the feed
            feed = comment_feed(q, shown, out, h.long_date, name="답글", dated=True, flat=True)
        return h.render("era2019_question.html", title=q.title, canonical=None, q=q, props=props,
                        feed=h.Markup(feed), out=out, popular=POPULAR)  # fmt: skip

    def detail_2021(q: Question) -> str:
        app = ""
        if site.json:
            app = f'<div data-react-class="App" data-react-props="{h.react_props(q)}"></div>'
        if q.deleted:
            return h.page("삭제된 질문입니다", '<main class="qna-detail qna-detail--deleted">'
                          '<p class="qna-detail__deleted">삭제된 질문입니다</p></main>')  # fmt: skip
        out = logged_out(site, q)
        w = q.writer
        nick = f'<span class="qna-detail-author__profile-link__summary-nickname">{_e(w.nickname)}</span>'
        summary = f'<span class="qna-detail-author__profile-link__summary">{nick}</span>'
        if w.id is not None:
            author = f'<a class="qna-detail-author__profile-link" href="/users/{w.id}">{summary}</a>'
        else:
            author = f'<span class="qna-detail-author__profile-link">{summary}</span>'
        keywords = ""
        if q.keywords:
            keywords = '<ul class="qna-detail__footer__keyword-list">' + "".join(
                f'<li class="qna-detail__footer__keyword-item"><a href="/questions?{urlencode({"query": kw})}">{_e(kw)}</a></li>'
                for kw in q.keywords) + "</ul>"  # fmt: skip
        imgs = "".join(f'<img src="{_e(u)}" alt="">' for u in q.images)
        category = ""
        if q.category:  # (design) the research names no category on 2021 pages
            category = (f'<a class="qna-detail__content__header-category" '
                        f'href="/questions?{urlencode({"query": q.category})}">{_e(q.category)}</a>')  # fmt: skip
        views = ""
        if q.view_count is not None:
            views = ('<span class="qna-detail__footer__metadata-view-count">조회 <span class="qna-detail__footer__'
                     f'metadata-view-count-value">{h.count(q.view_count)}</span></span>')  # fmt: skip
        scraps = ""
        if q.scrap_count is not None:
            scraps = (f'<span class="qna-detail__footer__metadata-scrap-count">스크랩 '
                      f'<span class="qna-detail__footer__metadata-scrap-count-value">{h.count(q.scrap_count)}</span></span>')  # fmt: skip
        when = _e(q.display_at) if q.display_at else h.long_date(q.created_at)  # no datetime attribute
        report = ('<a class="qna-detail__footer__metadata-report" href="/users/sign_in">신고</a>' if out
                  else '<button type="button" class="qna-detail__footer__metadata-report">신고</button>')  # fmt: skip
        body = (
            f'{app}<main class="qna-detail"><article class="qna-detail__container"><div class="qna-detail__content">'
            f'<header class="qna-detail__content__header">{category}'
            f'<h1 class="qna-detail__content__header-title">{q.raw_title}</h1>'
            f'<address class="qna-detail-author">{author}</address></header>'
            f'<section class="qna-detail__content__body">{imgs}{q.raw_html}</section></div>'
            f'<footer class="qna-detail__footer">{keywords}<div class="qna-detail__footer__metadata">'
            f'<time class="qna-detail__footer__metadata-date">{when}</time>{views}{scraps}{report}</div></footer>'
            '</article><section class="qna-detail__comment-section">'
            + comment_feed(q, shown_comments(site, q), out, h.long_date, name="댓글", dated=False, flat=False)
            + "</section></main>"
        )
        return h.page(q.title, body)

    def detail_2024(q: Question) -> str:
        k = c()
        if q.deleted:
            return h.page(
                "삭제된 게시글입니다",
                f'<div id="__next"><main><p class="{k["DeletedNotice"]}">삭제된 게시글입니다</p></main></div>',
            )
        w = q.writer
        name = f'<span class="{k["PostWriterName"]}">{_e(w.nickname)}</span>'
        author = f'<a class="{k["PostWriter"]}" href="/users/{w.id}">{name}</a>' if w.id is not None else name
        paras = "".join(
            "<p>" + "<br>".join(html.escape(line, quote=False) for line in p.split("\n")) + "</p>"
            for p in q.text.split("\n\n") if p
        )  # fmt: skip
        imgs = "".join(f'<img src="{_e(u)}" alt="">' for u in q.images)
        keywords = "".join(
            f'<li><a href="/community/posts?{urlencode({"query": kw})}">#{_e(kw)}</a></li>'
            for kw in q.keywords
        )
        views = (
            f'<span class="{k["PostViewCount"]}">조회 {h.count(q.view_count)}</span>'
            if q.view_count is not None
            else ""
        )
        scraps = (
            f'<span class="{k["PostScrapCount"]}">스크랩 {h.count(q.scrap_count)}</span>'
            if q.scrap_count is not None
            else ""
        )
        category = f'<span class="{k["PostCategory"]}">{_e(q.category)}</span>' if q.category else ""
        shown = shown_comments(site, q)
        comments = "".join(post_comment(cm, k, h.long_date) for cm in shown)
        more = (
            f'<button type="button" class="{k["CommentMore"]}">댓글 더보기</button>'
            if len(shown) < len(q.comments)
            else ""
        )
        body = (
            f'<div id="__next"><main><article class="{k["PostDetail"]}" data-post-id="{q.id}">{category}'
            f'<h1 class="{k["PostTitle"]}">{html.escape(q.title, quote=False)}</h1>{author}'
            f"{_time(k['PostDate'], q.display_at, q.created_at, h.long_date)}{views}{scraps}"
            f'<div class="{k["PostContent"]}">{paras}{imgs}</div>'
            f"{'<ul class=' + chr(34) + k['PostKeywords'] + chr(34) + '>' + keywords + '</ul>' if keywords else ''}</article>"
            f'<section class="{k["CommentSection"]}"><h2>댓글 <span class="{k["CommentCount"]}">{len(q.comments)}</span></h2>'
            f'<ul class="{k["CommentList"]}">{comments}</ul>{more}</section></main></div>'
        )
        if site.json:
            body += (
                f'<script id="__NEXT_DATA__" type="application/json">{h.next_data(q, f"qna-{q.id}")}</script>'
            )
        return h.page(q.title, body)

    async def question_page(request: Request) -> Response:
        return await detail(request, site.questions.get(request.path_params["qid"]))

    async def community_post(request: Request) -> Response:
        head, _, tail = request.path_params["slug_id"].rpartition("-")
        if head == "notice" and tail.isdigit():
            n = next((n for n in site.notices if n["id"] == int(tail)), None)
            if n is not None:
                return h.respond(
                    h.page(n["title"], f'<div id="__next"><main><h1>{_e(n["title"])}</h1></main></div>')
                )
        q = site.questions.get(int(tail)) if tail.isdigit() and head else None
        return await detail(request, q)

    out = []
    if era == "2024":
        out += [
            Route("/questions", redirect_2024),
            Route("/community/posts", list_2024),
            Route("/community/posts/{slug_id}", community_post),
        ]
        if site.json:
            out.append(Route("/api/community/posts", api_posts))
    else:
        out += [
            Route("/questions", list_2019 if era == "2019" else list_2021),
            Route("/questions/{qid:int}", question_page),
        ]
        if site.json:
            out += [
                Route("/questions.json", h.question_list_json),
                Route("/questions/{qid:int}.json", h.question_json_route),
                Route("/questions/{qid:int}/comments.json", h.comments_json),
            ]
    return out
