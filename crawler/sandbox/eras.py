"""The sandbox in the markup of the real site's eras (`dobae sandbox serve --era 2019|2021|2024`).

The same content as the default site, rendered as 오늘의집 질문과답변 looked in each era
(`../shared/research/ohouse-site.md`):

- **2019**: Rails, server-rendered, readable BEM classes. List: a keyword taxonomy, then
  `section#questions-list` of `a.questions-item__link` (tracking parameters) wrapping
  `article.questions-item` ("답글 N", relative times), `nav.paginator[data-total][data-current]` of
  `<li data-page>` (no hrefs, an unclosed `<li>`). Detail `article#page` with a sidebar of popular
  keywords (a trap), `#kakaoTemplateData[data-comment_count]`, and the comment feed an empty React
  mount point (`div[data-react-class=CommentFeed]`, `count`/`total_count` in `data-react-props`):
  the comments come from `comments.json`. Questions with an odd id are the "DOM variant": the mount
  point holds the rendered first comment page (as a page saved after React ran), with
  `<button data-page>` comment pages; ids ≡ 1 (mod 4) are logged out.
- **2021**: React rendered on the server, emotion-hashed classes, `data-react-props` App JSON.
  List as the default site but the paginator is `<button>`s without hrefs. Detail
  `main.qna-detail > article.qna-detail__container` with the research's classes
  (`h1.qna-detail__content__header-title`, `address.qna-detail-author`,
  `section.qna-detail__content__body`, `qna-detail__footer__*`, a `<time>` without datetime) and
  the rendered `comment-feed__*` feed (first 10 comments, replies nested in
  `div.comment-feed__reply-list`, `@mention` anchors, `<button>` actions); questions with an even
  id are the logged-out variant: `a[href=/users/sign_in]` instead of the buttons and a cover link
  over the comment form.
- **2024**: Next.js community posts at `/community/posts/qna-{id}` (`/questions…` answers 301 to
  `/community/posts…`): server-rendered HTML (hashed classes) + `__NEXT_DATA__` with every comment;
  the list is infinite scroll (`/community/posts?page=N`, no paginator; its JSON is
  `/api/community/posts?page=N`).

`json=False` (`--no-json`) removes every JSON endpoint (`*.json`, `/api/…` answer 404) and the JSON
embedded in pages (`data-react-props` App props, `__NEXT_DATA__`): only HTML is left.
"""

from __future__ import annotations

import html
import math

from crawler.sandbox.content import ERAS, LIST_PER, Comment, Question, iso
from crawler.sandbox.render import feed_paginator
from crawler.sandbox.site import Site

__all__ = ["ERAS", "shown_comments"]
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


def logged_out(site: Site, q: Question) -> bool:
    """Served as a logged-out visitor sees it: 2021 even ids; 2019 the rendered-feed pages whose id
    is 1 modulo 4 (sign-in links on every action, a cover over the comment form)."""
    if site.era == "2019":
        return q.id % 4 == 1
    return q.id % 2 == 0


def _e(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def _time(cls: str, raw: str | None, at, long_date) -> str:
    if raw:
        return f'<time class="{cls}">{_e(raw)}</time>'
    return f'<time class="{cls}" datetime="{iso(at)}">{long_date(at)}</time>'


# ----------------------------------------------------------------------------- comment feeds

POPULAR = ["곰팡이", "결로", "실크벽지", "셀프도배", "몰딩"]  # the 2019 sidebar's popular keywords
TAXONOMY = [("시공", ["도배", "벽지", "몰딩", "석고보드"]), ("하자", ["곰팡이", "결로", "들뜸"])]


def feed_item(
    c: Comment,
    by_id: dict[int, Comment],
    replies: list[str],
    out: bool,
    long_date,
    *,
    dated: bool,
    flat: bool,
) -> str:
    """One `li.comment-feed__list__item > article.comment-feed__item` (2019 and 2021 share the
    classes). `dated`: `<time datetime>` (2019) or text only (2021); `flat`: replies follow their
    parent with `data-parent-id` (2019 feed) instead of nesting in `div.comment-feed__reply-list`
    with an `@mention` anchor (2021). `out`: logged out (sign-in links on every action)."""  # fmt: skip
    reply_cls = " comment-feed__list__item--reply" if c.parent_id else ""
    parent = f' data-parent-id="{c.parent_id}"' if c.parent_id and flat else ""
    if c.display_at:
        when = f'<time class="comment-feed__item__footer__time">{_e(c.display_at)}</time>'
    elif dated:
        when = (f'<time class="comment-feed__item__footer__time" datetime="{iso(c.created_at)}">'
                f"{long_date(c.created_at)}</time>")  # fmt: skip
    else:
        when = f'<time class="comment-feed__item__footer__time">{long_date(c.created_at)}</time>'
    zero = " comment-feed__item__footer__likes--zero" if c.like_count == 0 else ""
    count = f'좋아요 <span class="comment-feed__item__footer__likes__count">{c.like_count}</span>'
    if out:
        likes = f'<a class="comment-feed__item__footer__likes{zero}" href="/users/sign_in">{count}</a>'
        actions = '<a class="comment-feed__item__footer__reply-btn" href="/users/sign_in">답글 달기</a>'
    else:
        likes = f'<button type="button" class="comment-feed__item__footer__likes{zero}">{count}</button>'
        actions = ('<button type="button" class="comment-feed__item__footer__reply-btn">답글 달기</button>'
                   '<button type="button" class="comment-feed__item__footer__report-btn">신고</button>')  # fmt: skip
    nested = ""
    if replies:
        nested = f'<div class="comment-feed__reply-list"><ul class="comment-feed__list">{"".join(replies)}</ul></div>'
    if c.is_deleted:
        return (f'<li class="comment-feed__list__item{reply_cls}"><article class="comment-feed__item '
                f'comment-feed__item--deleted" data-comment-id="{c.id}"{parent}><p class="comment-feed__item__content">'
                '<span class="comment-feed__item__content__content">삭제된 댓글입니다</span></p>'
                f'<footer class="comment-feed__item__footer">{when}{likes}</footer></article>{nested}</li>')  # fmt: skip
    w = c.writer
    name = f'<span class="comment-feed__item__content__author__name">{_e(w.nickname)}</span>'
    if w.id is not None:
        author = f'<a class="comment-feed__item__content__author" href="/users/{w.id}">{name}</a>'
    else:
        author = f'<span class="comment-feed__item__content__author">{name}</span>'
    badge = ""
    if w.badge:
        badge = (f'<span class="comment-feed__item__badge comment-feed__item__badge--{w.badge}">'
                 f"{BADGES[w.badge]}</span>")  # fmt: skip
    mention = ""
    up = by_id.get(c.parent_id) if c.parent_id and not flat else None
    if up is not None and not up.is_deleted and up.writer.id is not None:
        mention = (f'<a class="comment-feed__item__content__mention" href="/users/{up.writer.id}">'
                   f"@{_e(up.writer.nickname)}</a> ")  # fmt: skip
    adopted = '<span class="comment-feed__item__adopted">채택된 답변</span>' if c.is_adopted else ""
    return (
        f'<li class="comment-feed__list__item{reply_cls}"><article class="comment-feed__item" data-comment-id="{c.id}"'
        f'{parent}><p class="comment-feed__item__content">{author}{badge}'
        f'<span class="comment-feed__item__content__content">{mention}{c.raw_html}</span></p>'
        f'<footer class="comment-feed__item__footer">{when}{likes}{actions}{adopted}</footer></article>{nested}</li>'
    )


def comment_feed(
    q: Question, shown: list[Comment], out: bool, long_date, *, name: str, dated: bool, flat: bool
) -> str:
    """`section.comment-feed`: header "답글/댓글 N", the form (covered by a sign-in link when logged
    out), the comments shown (flat, or replies nested under their parent), comment page buttons."""  # fmt: skip
    by_id = {c.id: c for c in q.comments}
    ids = {c.id for c in shown}
    children: dict[int, list[Comment]] = {}
    if not flat:
        for c in shown:
            if c.parent_id in ids:
                children.setdefault(c.parent_id, []).append(c)

    def li(c: Comment) -> str:
        replies = [li(r) for r in children.get(c.id, [])]
        return feed_item(c, by_id, replies, out, long_date, dated=dated, flat=flat)

    items = "".join(li(c) for c in shown if flat or c.parent_id not in ids)
    if out:
        form = ('<form class="comment-feed__form"><a class="comment-feed__form__cover" href="/users/sign_in">'
                "로그인하고 댓글을 남겨 보세요</a><textarea class=\"comment-feed__form__input\" disabled></textarea></form>")  # fmt: skip
    else:
        form = ('<form class="comment-feed__form"><textarea class="comment-feed__form__input" placeholder="댓글을 남겨 보세요">'
                '</textarea><button type="submit" class="comment-feed__form__submit">등록</button></form>')  # fmt: skip
    buttons = feed_paginator(len(q.comments), SHOWN_COMMENTS)
    return (f'<section class="comment-feed"><h1 class="comment-feed__header">{name}&nbsp;'
            f'<span class="comment-feed__header__count">{len(q.comments)}</span></h1>{form}'
            f'<ul class="comment-feed__list">{items}</ul>{buttons}</section>')  # fmt: skip


def relative(at, now) -> str:
    """The 2019 list's relative dates: "5분 전", "3시간 전", "2일 전", else `2019.05.14`."""
    s = (now - at).total_seconds()
    if s < 3600:
        return f"{max(1, int(s // 60))}분 전"
    if s < 86400:
        return f"{int(s // 3600)}시간 전"
    if s < 7 * 86400:
        return f"{int(s // 86400)}일 전"
    return at.strftime("%Y.%m.%d")


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
