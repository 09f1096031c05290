"""`ohouse`: 오늘의집-style 질문과답변, list → question → comments.

Order of preference, per page kind: the JSON endpoint (`/questions.json`), the JSON embedded in
the page (`data-react-props`, `__NEXT_DATA__`), then the HTML, whose selectors use only the stable
part of emotion-hashed classes (`[class*="QuestionTitle"]`). A question's page carries the
question and all its comments in one request; if its embedded JSON is missing or broken the
HTML is parsed and the remaining comment pages come from `comments.json`.

Example: `scrapy crawl ohouse -a base_url=http://127.0.0.1:8800 -a query=도배,벽지 -a max_pages=3`
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any
from urllib.parse import urlencode

import scrapy
from pydantic import Field, field_validator

from crawler.normalize import parse_count, parse_korean_datetime
from crawler.spiders.base import DobaeSpider, SpiderArgs

QUESTION_PATH = re.compile(r"/questions/(\d+)(?:[/?#]|$)")
HTML_LIST_PER = 20  # cards per HTML list page (fixed by the site; the JSON endpoint takes `per`)
MAX_LIST_REREADS = 20  # per keyword: re-reads of the list head after the list grew mid-crawl


class OhouseArgs(SpiderArgs):
    query: list[str] = Field(default_factory=list, description="keywords, e.g. 도배,벽지,곰팡이 (none: all)")
    max_pages: int | None = Field(None, ge=1, description="list pages per keyword")
    per: int = Field(20, ge=1, le=100, description="questions per list page (JSON endpoint)")
    source: str = Field("ohouse", min_length=1, max_length=100, description="source name in the database")

    @field_validator("query", mode="before")
    @classmethod
    def _query(cls, value: object) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = value.split(",")
        return [str(v).strip() for v in value if str(v).strip()]  # type: ignore[union-attr]


def _first(d: dict, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if key in d and d[key] is not None:
            return d[key]
    return default


def question_from_json(q: dict, comments: list[dict], source: str, url: str, now) -> dict:
    """The sandbox/ohouse JSON shapes (snake_case Rails, camelCase Next.js) → a spider item dict."""
    writer = _first(q, "writer", "user", "author", default={}) or {}
    if "profile" in writer:  # Next.js: writer.profile.nickname
        writer = {**writer, **(writer.get("profile") or {})}
    return {
        "kind": "question",
        "source": source,
        "external_id": str(q["id"]),
        "url": url,
        "title": _first(q, "title", "name"),
        "body": _first(q, "body_html", "body", "description", "content", default=_components(q)),
        "category": _first(q, "category"),
        "keywords": _first(q, "keywords", "tags", default=[]),
        "author_id": None if writer.get("id") is None else str(writer["id"]),
        "author_name": _first(writer, "nickname", "name"),
        "posted_at": parse_korean_datetime(_first(q, "created_at", "createdAt"), now),
        "view_count": _first(q, "view_count", "viewCount"),
        "comment_count": _first(q, "comment_count", "commentCount", default=len(comments)),
        "scrap_count": _first(q, "scrap_count", "scrapCount"),
        "like_count": _first(q, "like_count", "likeCount"),
        "is_deleted": bool(_first(q, "is_deleted", "isDeleted", "deleted", default=False)),
        "comments": [comment_from_json(c, now) for c in comments],
    }


def _components(q: dict) -> str | None:
    """Next.js `components`: plain-text TEXT paragraphs (line breaks inside) → paragraph HTML."""
    parts = q.get("components")
    if parts is None:
        return None  # not the Next.js shape
    return "".join(
        "<p>"
        + html.escape(p.get("text") or p.get("content") or "", quote=False).replace("\n", "<br>")
        + "</p>"
        for p in parts
        if p.get("componentType", "TEXT") == "TEXT"
    )


def comment_from_json(c: dict, now) -> dict:
    """A comment in the Rails shape (`parent_id`, `is_adopted`) or the Next.js one (`parentId`, …)."""
    writer = _first(c, "writer", "user", "author", default={}) or {}
    parent = _first(c, "parent_id", "parentId")
    return {
        "external_id": str(c["id"]),
        "parent_external_id": None if parent is None else str(parent),
        "body": _first(c, "body_html", "body", "content"),
        "author_id": None if writer.get("id") is None else str(writer["id"]),
        "author_name": _first(writer, "nickname", "name"),
        "author_badge": writer.get("badge"),
        "is_adopted": bool(_first(c, "is_adopted", "isAdopted", default=False)),
        "like_count": _first(c, "like_count", "likeCount"),
        "posted_at": parse_korean_datetime(_first(c, "created_at", "createdAt"), now),
        "is_deleted": bool(_first(c, "is_deleted", "isDeleted", default=False)),
    }


class OhouseSpider(DobaeSpider):
    name = "ohouse"
    args_model = OhouseArgs
    handle_httpstatus_list = [404, 410]

    # ------------------------------------------------------------------ list
    #
    # Lists change while they are read: a question published mid-crawl becomes the newest card and
    # shifts every later page by one (the last card of page 1 is also the first of page 2). The
    # JSON list says so through a larger `total_count`, the HTML list through a card already seen
    # on an earlier page; either way the head of the list is read again, and pages past the old
    # last page are added.

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.list_total: dict[str, int] = {}  # keyword → largest total_count seen
        self.list_last: dict[str, int] = {}  # keyword → last JSON page scheduled
        self.list_rereads: dict[str, int] = {}
        self.list_cards: dict[str, set[str]] = {}  # keyword → ids seen on HTML list pages

    async def start(self):
        for query in self.args.query or [""]:
            yield self.list_json_request(query, 1)

    def list_json_request(self, query: str, page: int, reread: bool = False) -> scrapy.Request:
        params = {"page": page, "per": self.args.per}
        if query:
            params["query"] = query
        return scrapy.Request(
            self.url(f"/questions.json?{urlencode(params)}"),
            callback=self.parse_question_list_json,
            errback=self.list_json_failed,
            cb_kwargs={"query": query, "page": page, "reread": reread},
            dont_filter=True,  # lists change: always refetched (also after a restart)
        )

    def list_html_request(self, query: str, page: int, follow: bool = True) -> scrapy.Request:
        params: dict[str, Any] = {"page": page}
        if query:
            params["query"] = query
        return scrapy.Request(
            self.url(f"/questions?{urlencode(params)}"),
            callback=self.parse_question_list,
            cb_kwargs={"query": query, "page": page, "follow": follow},
            dont_filter=True,
        )

    def html_fallback(self, query: str, page: int):
        """The HTML list pages that hold JSON page `page` (they have 20 cards, JSON pages `per`).
        Page 1 walks the paginator on; later pages only cover their own range."""
        if page == 1:
            yield self.list_html_request(query, 1, follow=True)
            return
        first = (page - 1) * self.args.per // HTML_LIST_PER + 1
        last = math.ceil(page * self.args.per / HTML_LIST_PER)
        for p in range(first, last + 1):
            yield self.list_html_request(query, p, follow=False)

    def reread_head(self, query: str, pages: int, json_list: bool):
        """The list grew while it was read: read its first `pages` pages again (bounded)."""
        done = self.list_rereads.get(query, 0)
        if done >= MAX_LIST_REREADS:
            return
        self.list_rereads[query] = done + 1
        self.crawler.stats.inc_value("ohouse/list_reread")
        self.logger.info(
            "the list %r grew during the crawl: reading its first %d page(s) again", query, pages
        )
        for p in range(1, pages + 1):
            if json_list:
                yield self.list_json_request(query, p, reread=True)
            else:
                yield self.list_html_request(query, p, follow=False)

    def parse_question_list_json(self, response, query: str, page: int, reread: bool = False):
        if response.status >= 400:
            yield from self.html_fallback(query, page)
            return
        try:
            data = json.loads(response.text)
            questions = data["questions"]
            total = int(data.get("total_count") or 0)
        except (ValueError, KeyError, TypeError):
            self.crawler.stats.inc_value("ohouse/list_json_broken")
            self.logger.warning("broken list JSON at %s: falling back to the HTML list", response.url)
            yield from self.html_fallback(query, page)
            return
        for q in questions:
            yield from self.follow_question(str(q["id"]), parse_count(q.get("comment_count")))
        known = self.list_total.get(query)
        if known is not None and total > known:
            yield from self.reread_head(query, math.ceil((total - known) / self.args.per), json_list=True)
        if known is None or total > known:
            self.list_total[query] = total
            last = max(1, math.ceil(total / self.args.per))
            if self.args.max_pages:
                last = min(last, self.args.max_pages)
            for p in range(self.list_last.get(query, 1) + 1, last + 1):
                yield self.list_json_request(query, p)
            self.list_last[query] = max(last, self.list_last.get(query, 1))

    def list_json_failed(self, failure):
        request = failure.request
        self.crawler.stats.inc_value("ohouse/list_json_failed")
        self.logger.warning("list JSON failed (%s): falling back to the HTML list", failure.value)
        return list(self.html_fallback(request.cb_kwargs["query"], request.cb_kwargs["page"]))

    def parse_question_list(self, response, query: str, page: int, follow: bool = True):
        """The 2021-style HTML list: cards, pinned notices (skipped), paginator."""
        cards = response.css('[class*="QuestionContainer"]')
        seen_here = self.list_cards.setdefault(query, set())
        shifted = False
        for card in cards:
            if card.css('[class*="Notice"]') or "Notice" in (card.attrib.get("class") or ""):
                continue
            href = card.css('a[class*="QuestionLink"]::attr(href), a::attr(href)').get()
            m = QUESTION_PATH.search(href or "")
            if not m:
                continue
            qid = m.group(1)
            shifted = shifted or (page > 1 and follow and qid in seen_here)
            seen_here.add(qid)
            stats = card.css('[class*="QuestionStatsItem"] ::text').getall()
            comments = next((parse_count(s) for s in stats if "댓글" in s), None)
            yield from self.follow_question(qid, comments)
        if shifted:  # a card of an earlier page again: something new pushed the list down
            yield from self.reread_head(query, 1, json_list=False)
        if not cards or not follow:
            return  # past the last page ("검색 결과가 없습니다"), or a page standing in for a JSON page
        if self.args.max_pages and page >= self.args.max_pages:
            return
        pages = [
            int(n)
            for n in response.css('[class*="Paginator"] a::attr(href)').re(r"[?&]page=(\d+)")
            if n.isdigit()
        ]
        if pages and page + 1 <= max(pages) or not pages and cards:
            yield self.list_html_request(query, page + 1)

    # ------------------------------------------------------------------ questions

    def follow_question(self, qid: str, comment_count: int | None):
        if qid in self.seen:
            self.crawler.stats.inc_value("ohouse/duplicate_in_list")
            return
        self.seen.add(qid)
        known = self.known.get(qid)
        if known is not None and comment_count is not None and known[0] == comment_count and not known[1]:
            self.crawler.stats.inc_value("incremental/skipped")
            return
        yield self.question_request(qid)

    def question_request(self, qid: str, lastmod: str | None = None) -> scrapy.Request:
        return scrapy.Request(
            self.url(f"/questions/{qid}"),
            callback=self.parse_question,
            errback=self.question_failed,
            cb_kwargs={"qid": qid, "lastmod": lastmod},
            dont_filter=True,
        )

    def deleted(self, qid: str) -> dict:
        return {"kind": "question", "source": self.source_name, "external_id": qid,
                "url": self.url(f"/questions/{qid}"), "is_deleted": True}  # fmt: skip

    def parse_question(self, response, qid: str, lastmod: str | None = None):
        for item in self.question_items(response, qid, lastmod):
            if lastmod and isinstance(item, dict):
                item["lastmod"] = lastmod
            yield item

    def question_items(self, response, qid: str, lastmod: str | None):
        if response.status in (404, 410):
            self.crawler.stats.inc_value("ohouse/question_gone")
            yield self.deleted(qid)
            return
        now = self.reference_time(response)
        url = self.url(f"/questions/{qid}")
        data = self.embedded_json(response)
        if data is not None:
            q = data.get("question") or data
            comments = data.get("comments")
            if isinstance(comments, dict):
                comments = comments.get("comments") or comments.get("items") or []
            if q.get("is_deleted") or self.is_deleted_page(response):
                yield self.deleted(qid)
                return
            if q.get("id") is not None and comments is not None:
                item = question_from_json(q, comments, self.source_name, url, now)
                total = parse_count(
                    data.get("comment_total") or (data.get("comments_meta") or {}).get("total_count")
                )
                if total is None or len(comments) >= total:
                    yield item
                    return
        if self.is_deleted_page(response):
            yield self.deleted(qid)
            return
        self.crawler.stats.inc_value("ohouse/html_fallback")
        item = self.question_from_html(response, qid, url, now)
        item["lastmod"] = lastmod
        yield self.comments_request(item, 1)

    @staticmethod
    def is_deleted_page(response) -> bool:
        text = " ".join(
            response.css("h1 ::text, .deleted ::text, [class*='Deleted'] ::text, p ::text").getall()[:20]
        )
        return "삭제된 질문" in text

    def embedded_json(self, response) -> dict | None:
        raw = response.css("[data-react-props]::attr(data-react-props)").get()
        if raw is None:
            raw = response.css("script#__NEXT_DATA__::text").get()
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            self.crawler.stats.inc_value("ohouse/embedded_json_broken")
            return None
        queries = (((data.get("props") or {}).get("pageProps") or {}).get("dehydratedState") or {}).get(
            "queries"
        )
        if queries:  # Next.js: props.pageProps.dehydratedState.queries[].state.data.post
            for query in queries:
                post = ((query.get("state") or {}).get("data") or {}).get("post")
                if post:
                    return {"question": post, "comments": post.get("comments", [])}
            return None
        return data if isinstance(data, dict) else None

    def question_from_html(self, response, qid: str, url: str, now) -> dict:
        """The 2019-style server-rendered detail page (readable BEM classes)."""
        page = response.css("article#page, [data-question-id]") or response
        author = page.css("address.question__author, [class*='question__author']")
        author_href = author.css("a::attr(href)").get() or ""
        uid = re.search(r"/users/(\d+)", author_href)
        time_el = page.css("time.question__content__footer__date, [class*='question__content__footer__date']")
        when = time_el.attrib.get("datetime") if time_el else None
        views = page.css("[class*='question__content__footer__view'] ::text, [class*='views'] ::text").get()
        scraps = page.css("[class*='scrap'] ::text").get()
        return {
            "kind": "question",
            "source": self.source_name,
            "external_id": qid,
            "url": url,
            "title": page.css(
                "#question-name ::text, [class*='question__content__header__name'] ::text"
            ).get(),
            "body": page.css("section.question__content__body, [class*='question__content__body']").get(),
            "category": page.css("[class*='question__category'] ::text").get(),
            "keywords": page.css("ul.keyword-list a ::text, [class*='keyword-item'] ::text").getall(),
            "author_id": uid.group(1) if uid else None,
            "author_name": author.css("[class*='__name'] ::text").get() or author.css("::text").get(),
            "posted_at": parse_korean_datetime(
                when or (time_el.css("::text").get() if time_el else None), now
            ),
            "view_count": views,
            "scrap_count": scraps,
            "comment_count": page.css(
                ".comment-feed__header__count ::text, [class*='header__count'] ::text"
            ).get(),
            "comments": [],
        }

    def comments_request(self, item: dict, page: int) -> scrapy.Request:
        return scrapy.Request(
            self.url(f"/questions/{item['external_id']}/comments.json?page={page}&per=10"),
            callback=self.parse_comments,
            errback=self.comments_failed,
            cb_kwargs={"item": item, "page": page},
            dont_filter=True,
        )

    def parse_comments(self, response, item: dict, page: int):
        now = self.reference_time(response)
        try:
            data = json.loads(response.text)
        except ValueError:
            self.crawler.stats.inc_value("ohouse/comments_json_broken")
            self.logger.error(
                "broken comments JSON at %s: question %s not stored", response.url, item["external_id"]
            )
            return
        item["comments"] = item["comments"] + [comment_from_json(c, now) for c in data.get("comments", [])]
        next_page = data.get("next_page")
        if next_page:
            yield self.comments_request(item, int(next_page))
        else:
            yield item

    def comments_failed(self, failure):
        self.crawler.stats.inc_value("ohouse/comments_failed")
        self.logger.error("comments failed for %s: %s", failure.request.url, failure.value)

    def question_failed(self, failure):
        self.crawler.stats.inc_value("ohouse/question_failed")
        self.logger.error("question %s failed: %s", failure.request.url, failure.value)
