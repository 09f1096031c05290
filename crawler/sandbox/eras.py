"""The sandbox in the markup of the real site's eras (`dobae sandbox serve --era 2019|2021|2024`).

The same content as the default site, rendered as 오늘의집 질문과답변 looked in each era
(`../shared/research/ohouse-site.md`):

- **2019**: Rails, server-rendered, readable BEM classes. List `ul.question-list` with
  `nav.paginator[data-total][data-per]` of `<li data-page>` (no hrefs). Detail `article#page` whose
  comment feed is an empty React mount point (`div[data-react-class=CommentFeed]`, only the count in
  `data-react-props`): the comments come from `comments.json`. Questions with an odd id are the
  "DOM variant": the mount point holds the rendered first comment page (as a page saved after React
  ran), with `<button data-page>` comment pages.
- **2021**: React rendered on the server, emotion-hashed classes, `data-react-props` App JSON.
  List as the default site but the paginator is `<button>`s without hrefs. Detail `.qna-detail__*`
  with the rendered comment feed (first 10 comments, replies nested under their parent, `@mention`
  anchors, `<button>` actions, "댓글 더보기"); questions with an even id are the logged-out variant:
  `a[href=/users/sign_in]` instead of the buttons and a cover link over the comment form.
- **2024**: Next.js community posts at `/community/posts/qna-{id}` (`/questions…` answers 301 to
  `/community/posts…`): server-rendered HTML (hashed classes) + `__NEXT_DATA__` with every comment;
  the list is infinite scroll (`/community/posts?page=N`, no paginator; its JSON is
  `/api/community/posts?page=N`).

`json=False` (`--no-json`) removes every JSON endpoint (`*.json`, `/api/…` answer 404) and the JSON
embedded in pages (`data-react-props` App props, `__NEXT_DATA__`): only HTML is left.
"""

from __future__ import annotations

import html
import json
import math
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crawler.sandbox.site import ERAS, LIST_PER, Comment, Question, Site, iso

__all__ = ["ERAS", "routes", "shown_comments"]
SHOWN_COMMENTS = 10  # comments a page renders; the rest need a JSON call (or a browser)
BADGES = {"expert": "전문가", "seller": "판매자"}


def page_window(page: int, total: int) -> tuple[int, range]:
    """(last page, the block of up to 10 page numbers around `page`) of a list of `total` rows, as
    both eras' paginators show it (1–10, 11–20, …)."""
    last = max(1, math.ceil(total / LIST_PER))
    first = (min(page, last) - 1) // 10 * 10 + 1
    return last, range(first, min(first + 9, last) + 1)


def post_path(qid: int) -> str:
    return f"/community/posts/qna-{qid}"


def shown_comments(site: Site, q: Question) -> list[Comment]:
    """The comments the era's detail HTML shows (what a JSON-less crawl can store)."""
    if site.era == "2019" and q.id % 2 == 0:
        return []  # the empty mount point
    return q.comments[:SHOWN_COMMENTS]


def logged_out(q: Question) -> bool:
    """2021: questions with an even id are served as a logged-out visitor sees them."""
    return q.id % 2 == 0


def _e(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def _time(cls: str, raw: str | None, at, long_date) -> str:
    if raw:
        return f'<time class="{cls}">{_e(raw)}</time>'
    return f'<time class="{cls}" datetime="{iso(at)}">{long_date(at)}</time>'


# ----------------------------------------------------------------------------- 2021 comments


def qna_comment(c: Comment, by_id: dict[int, Comment], replies: list[str], out: bool, long_date) -> str:
    """One `li.qna-comment` of the 2021 feed (replies nested inside)."""
    reply_cls = " qna-comment--reply" if c.parent_id else ""
    nested = f'<ul class="qna-comment__replies">{"".join(replies)}</ul>' if replies else ""
    when = _time("qna-comment__time", c.display_at, c.created_at, long_date)
    if c.is_deleted:
        return (f'<li class="qna-comment qna-comment--deleted{reply_cls}" data-comment-id="{c.id}">'
                f'<div class="qna-comment__body"><p class="qna-comment__content">삭제된 댓글입니다</p>'
                f'<div class="qna-comment__footer">{when}<span class="qna-comment__like">좋아요 '
                f'<span class="qna-comment__like__count">{c.like_count}</span></span></div></div>{nested}</li>')  # fmt: skip
    w = c.writer
    if w.id is not None:
        author = (f'<a class="qna-comment__author" href="/users/{w.id}"><span class="qna-comment__author__name">'
                  f"{_e(w.nickname)}</span></a>")  # fmt: skip
    else:
        author = f'<span class="qna-comment__author"><span class="qna-comment__author__name">{_e(w.nickname)}</span></span>'
    badge = (
        f'<span class="qna-comment__badge qna-comment__badge--{w.badge}">{BADGES[w.badge]}</span>'
        if w.badge
        else ""
    )
    mention = ""
    parent = by_id.get(c.parent_id) if c.parent_id else None
    if parent is not None and not parent.is_deleted and parent.writer.id is not None:
        mention = f'<a class="qna-comment__mention" href="/users/{parent.writer.id}">@{_e(parent.writer.nickname)}</a> '
    likes = f'좋아요 <span class="qna-comment__like__count">{c.like_count}</span>'
    if out:
        actions = (f'<a class="qna-comment__like" href="/users/sign_in">{likes}</a>'
                   '<a class="qna-comment__reply-button" href="/users/sign_in">답글 달기</a>')  # fmt: skip
    else:
        actions = (f'<button type="button" class="qna-comment__like">{likes}</button>'
                   '<button type="button" class="qna-comment__reply-button">답글 달기</button>'
                   '<button type="button" class="qna-comment__report">신고</button>')  # fmt: skip
    adopted = '<span class="qna-comment__adopted">채택된 답변</span>' if c.is_adopted else ""
    return (
        f'<li class="qna-comment{reply_cls}" data-comment-id="{c.id}"><div class="qna-comment__body">{author}{badge}'
        f'<p class="qna-comment__content">{mention}{c.raw_html}</p>'
        f'<div class="qna-comment__footer">{when}{actions}{adopted}</div></div>{nested}</li>'
    )


def qna_feed(q: Question, shown: list[Comment], out: bool, long_date) -> str:
    by_id = {c.id: c for c in q.comments}
    children: dict[int, list[Comment]] = {}
    for c in shown:
        if c.parent_id:
            children.setdefault(c.parent_id, []).append(c)

    def li(c: Comment) -> str:
        return qna_comment(c, by_id, [li(r) for r in children.get(c.id, [])], out, long_date)

    items = "".join(li(c) for c in shown if not c.parent_id or c.parent_id not in {s.id for s in shown})
    if out:
        form = ('<form class="qna-comment-form"><a class="qna-comment-form__cover" href="/users/sign_in">'
                "로그인하고 댓글을 남겨 보세요</a><textarea class=\"qna-comment-form__input\" disabled></textarea></form>")  # fmt: skip
    else:
        form = ('<form class="qna-comment-form"><textarea class="qna-comment-form__input" placeholder="댓글을 남겨 보세요">'
                '</textarea><button type="submit" class="qna-comment-form__submit">등록</button></form>')  # fmt: skip
    more = ""
    if len(q.comments) > len(shown):
        more = '<button type="button" class="qna-comment-feed__more">댓글 더보기</button>'
    return (f'<section class="qna-comment-feed" data-comment-count="{len(q.comments)}"><h2 class="qna-comment-feed__header">'
            f'댓글 <span class="qna-comment-feed__count">{len(q.comments)}</span></h2>{form}'
            f'<ul class="qna-comment-feed__list">{items}</ul>{more}</section>')  # fmt: skip


# ----------------------------------------------------------------------------- 2024 comments


def post_comment(c: Comment, k: dict[str, str], long_date) -> str:
    parent = f' data-parent-id="{c.parent_id}"' if c.parent_id else ""
    when = _time(k["CommentDate"], c.display_at, c.created_at, long_date)
    if c.is_deleted:
        return (f'<li class="{k["CommentItem"]}" data-comment-id="{c.id}"{parent} data-deleted="true">'
                f'<p class="{k["CommentContent"]}">삭제된 댓글입니다</p>{when}'
                f'<span class="{k["CommentLike"]}">좋아요 <span>{c.like_count}</span></span></li>')  # fmt: skip
    w = c.writer
    name = f'<span class="{k["CommentWriterName"]}">{_e(w.nickname)}</span>'
    author = f'<a class="{k["CommentWriter"]}" href="/users/{w.id}">{name}</a>' if w.id is not None else name
    badge = (
        f'<span class="{k["CommentBadge"]}" data-badge="{w.badge}">{BADGES[w.badge]}</span>'
        if w.badge
        else ""
    )
    adopted = f'<span class="{k["AdoptedLabel"]}">채택</span>' if c.is_adopted else ""
    return (f'<li class="{k["CommentItem"]}" data-comment-id="{c.id}"{parent}>{author}{badge}{adopted}'
            f'<p class="{k["CommentContent"]}">{c.raw_html}</p>{when}'
            f'<button type="button" class="{k["CommentLike"]}">좋아요 <span>{c.like_count}</span></button></li>')  # fmt: skip


# ----------------------------------------------------------------------------- routes


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
        cards = [card(q, i, query) for i, q in enumerate(rows)]
        last, shown = page_window(page, len(qs))
        pages = list(shown)
        return h.respond(h.render("era2019_list.html", title="질문과답변", canonical=None, notices=site.notices,
                                  cards=cards, pages=pages, page=page, total=len(qs), per=LIST_PER))  # fmt: skip

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
        props = h.Markup(
            html.escape(json.dumps({"questionId": q.id, "commentCount": len(q.comments)}), quote=True)
        )
        feed = ""
        if shown:
            feed = h.render_feed(q, shown)
        return h.render("era2019_question.html", title=q.title, canonical=None, q=q, props=props,
                        feed=h.Markup(feed))  # fmt: skip

    def detail_2021(q: Question) -> str:
        k = c()
        app = ""
        if site.json:
            app = f'<div data-react-class="App" data-react-props="{h.react_props(q)}"></div>'
        if q.deleted:
            return h.page("삭제된 질문입니다", f'<div class="qna-detail qna-detail--deleted" data-question-id="{q.id}">'
                          '<p class="qna-detail__deleted">삭제된 질문입니다</p></div>')  # fmt: skip
        out = logged_out(q)
        w = q.writer
        name = f'<span class="qna-detail__author__name {k["QuestionAuthor"]}">{_e(w.nickname)}</span>'
        author = (
            f'<a class="qna-detail__author__link" href="/users/{w.id}">{name}</a>'
            if w.id is not None
            else name
        )
        keywords = ""
        if q.keywords:
            keywords = '<ul class="qna-detail__keywords">' + "".join(
                f'<li><a class="qna-detail__keyword" href="/questions?{urlencode({"query": kw})}">#{_e(kw)}</a></li>'
                for kw in q.keywords) + "</ul>"  # fmt: skip
        imgs = "".join(f'<img src="{_e(u)}" alt="">' for u in q.images)
        category = (
            f'<a class="qna-detail__category" href="/questions?{urlencode({"query": q.category})}">{_e(q.category)}</a>'
            if q.category
            else ""
        )
        views = (
            f'<span class="qna-detail__views {k["ViewCount"]}">조회 {h.count(q.view_count)}</span>'
            if q.view_count is not None
            else ""
        )
        scraps = (
            f'<span class="qna-detail__scraps">스크랩 {h.count(q.scrap_count)}</span>'
            if q.scrap_count is not None
            else ""
        )
        if out:
            actions = ('<a class="qna-detail__action" href="/users/sign_in">스크랩</a>'
                       '<a class="qna-detail__action" href="/users/sign_in">공유</a>')  # fmt: skip
        else:
            actions = ('<button type="button" class="qna-detail__action">스크랩</button>'
                       '<button type="button" class="qna-detail__action">공유</button>')  # fmt: skip
        body = (
            f'{app}<div class="qna-detail" data-question-id="{q.id}"><div class="qna-detail__header">{category}'
            f'<h1 class="qna-detail__title {k["QuestionTitle"]}">{q.raw_title}</h1></div>'
            f'<div class="qna-detail__author">{author}</div>'
            f'<div class="qna-detail__content {k["QuestionBody"]}">{q.raw_html}{imgs}</div>{keywords}'
            f'<div class="qna-detail__meta">{_time("qna-detail__date", q.display_at, q.created_at, h.long_date)}'
            f'{views}{scraps}</div><div class="qna-detail__actions">{actions}</div></div>'
            + qna_feed(q, shown_comments(site, q), out, h.long_date)
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
