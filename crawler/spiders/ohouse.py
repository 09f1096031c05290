"""`ohouse`: 오늘의집-style 질문과답변, list → question → comments.

Order of preference, per page kind: the JSON endpoint (`/questions.json`), the JSON embedded in
the page (`data-react-props`, `__NEXT_DATA__`), then the HTML through the era selectors
(`crawler/parsers/selectors.py`: stable parts only, e.g. `[class*="QuestionTitle"]`), and when none
of them matches, the structural fallback (`crawler/parsers/generic.py`, parse path `generic`,
summed up at the end of the crawl). The spider holds the callbacks — what to request next, what
a missing or broken page means, the stats —; reading a page is `crawler/parsers/`
(`ohouse_json.py`: the endpoints' payloads and the JSON embedded in pages; `ohouse_html.py`: the
HTML pages; `ohouse_urls.py`: which page a URL is). A question's page carries the question and
all its comments in one request; if its embedded JSON is missing or broken the HTML is parsed and
the remaining comment pages come from `comments.json`. A page that states more comments than can be read is
stored with what it has, `comments_incomplete` with the reason; a question is dropped only when
neither a title nor a body is found (a missing title is taken from the body's first sentence).

Example: `scrapy crawl ohouse -a base_url=http://127.0.0.1:8800 -a query=도배,벽지 -a max_pages=3`
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode, urlsplit

import scrapy
from pydantic import Field, field_validator
from w3lib.url import add_or_replace_parameter

from crawler.normalize import parse_count
from crawler.parsers import ohouse_html, ohouse_json, selectors
from crawler.parsers.ohouse_html import HTML_LIST_PER
from crawler.parsers.ohouse_json import question_from_json
from crawler.parsers.ohouse_urls import classify_url
from crawler.parsers.selectors import QUESTION_HREF
from crawler.spiders.base import DobaeSpider, SpiderArgs

TRACKED_FIELDS = ("title", "body", "author_name", "posted_at", "view_count", "keywords", "category")
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
        # `scrapy parse --spider=ohouse URL` replaces `start()` with its own and gives no base_url:
        # the site root is then taken from the URL it parses (see `parse`)
        self.base_from_response = "base_url" not in kwargs and type(self).start is not _OWN_START
        if self.base_from_response:
            kwargs["base_url"] = "http://base-url.from-the-parsed-page"
        super().__init__(*args, **kwargs)
        self.list_total: dict[str, int] = {}  # keyword → largest total_count seen
        self.list_last: dict[str, int] = {}  # keyword → last JSON page scheduled
        self.list_rereads: dict[str, int] = {}
        self.list_cards: dict[str, set[str]] = {}  # keyword → ids seen on HTML list pages

    @property
    def distributed(self):
        """The `RedisWorkers` extension in a scrapy-redis crawl (see crawler/distributed/), else None."""
        return getattr(self.crawler, "distributed", None)

    def list_state(self, query: str) -> tuple[int | None, int]:
        if self.distributed is not None:
            total, last = self.distributed.list_state(query)
            return total, last or 1
        return self.list_total.get(query), self.list_last.get(query, 1)

    def set_list_state(self, query: str, total: int, last: int) -> None:
        self.list_total[query], self.list_last[query] = total, last
        if self.distributed is not None:
            self.distributed.set_list_state(query, total, last)

    async def start(self):
        if self.distributed is not None and not self.distributed.claim_seed():
            self.logger.info("distributed crawl: another worker seeded it; taking requests from Redis")
            return
        for query in self.args.query or [""]:
            yield self.list_json_request(query, 1)

    def parse(self, response, **kwargs: Any):
        """Any one page of the site, by its URL (`scrapy parse --spider=ohouse URL`, `dobae crawl
        probe URL`): a list (HTML or JSON), a question page, or a question's JSON."""
        if self.base_from_response:
            parts = urlsplit(response.url)
            self.base_url = f"{parts.scheme}://{parts.netloc}"
        kind, qid, query, page = classify_url(response.url)
        if kind == "list_json":
            yield from self.parse_question_list_json(response, query=query, page=page)
        elif kind == "list":
            yield from self.parse_question_list(response, query=query, page=page)
        elif kind == "question":
            yield from self.parse_question(response, qid=qid)
        elif kind == "question_json":
            stub = {"kind": "question", "source": self.source_name, "external_id": qid,
                    "url": self.url(f"/questions/{qid}"), "comments": []}  # fmt: skip
            yield from self.parse_question_json(response, item=stub)
        else:
            self.crawler.stats.inc_value("ohouse/parse_unknown_url")
            self.logger.warning(
                "not a page the ohouse spider knows: %s (a list, a question or its JSON)", response.url
            )

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

    def list_html_request(
        self, query: str, page: int, follow: bool = True, url: str | None = None
    ) -> scrapy.Request:
        """HTML list page `page`; `url`: a list page already seen (its `page` parameter replaced),
        so a list that moved (2024: `/questions` → `/community/posts`) is walked where it is."""
        if url is not None:
            target = add_or_replace_parameter(url, "page", str(page))
        else:
            params: dict[str, Any] = {"page": page}
            if query:
                params["query"] = query
            target = self.url(f"/questions?{urlencode(params)}")
        return scrapy.Request(
            target,
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
            questions, total = ohouse_json.list_payload(response.text)
        except (ValueError, KeyError, TypeError):
            self.crawler.stats.inc_value("ohouse/list_json_broken")
            self.logger.warning("broken list JSON at %s: falling back to the HTML list", response.url)
            yield from self.html_fallback(query, page)
            return
        for q in questions:
            yield from self.follow_question(str(q["id"]), parse_count(q.get("comment_count")))
        known, scheduled = self.list_state(query)
        if response.meta.get("dobae_recovered"):  # a dead worker's page: its follow-ups may be missing
            known, scheduled = None, 1
        if known is not None and total > known:
            yield from self.reread_head(query, math.ceil((total - known) / self.args.per), json_list=True)
        if known is None or total > known:
            last = max(1, math.ceil(total / self.args.per))
            if self.args.max_pages:
                last = min(last, self.args.max_pages)
            self.set_list_state(query, total, max(last, scheduled))
            for p in range(scheduled + 1, last + 1):
                yield self.list_json_request(query, p)

    def list_json_failed(self, failure):
        request = failure.request
        self.crawler.stats.inc_value("ohouse/list_json_failed")
        self.logger.warning("list JSON failed (%s): falling back to the HTML list", failure.value)
        return list(self.html_fallback(request.cb_kwargs["query"], request.cb_kwargs["page"]))

    def parse_question_list(self, response, query: str, page: int, follow: bool = True):
        """An HTML list page of any era: the 2021 emotion cards (`[class*="QuestionContainer"]`), the
        2019 Rails BEM list (`li.question-list__item`) or the 2024 post feed (`[data-post-id]`).
        Pinned notices are skipped. The next page is `page=N+1` of the same URL: up to the last
        page the paginator links to (hrefs), else the stated total (`[data-total]`), else until a
        page has no cards (`<button>` and `<li data-page>` paginators carry no hrefs)."""
        seen_here = self.list_cards.setdefault(query, set())
        shifted = False
        found = 0
        for qid, href, comments in self.list_links(response):
            found += 1
            shifted = shifted or (page > 1 and follow and qid in seen_here)
            seen_here.add(qid)
            m = QUESTION_HREF.search(href)
            url = None if "/questions/" in m.group(0) else response.urljoin(href.split("?")[0].split("#")[0])
            yield from self.follow_question(qid, comments, url)
        if shifted:  # a card of an earlier page again: something new pushed the list down
            yield from self.reread_head(query, 1, json_list=False)
        if not found or not follow:
            return  # past the last page ("검색 결과가 없습니다"), or a page standing in for a JSON page
        if self.args.max_pages and page >= self.args.max_pages:
            return
        last = ohouse_html.last_list_page(response, found)
        if last is None or page + 1 <= last:
            yield self.list_html_request(query, page + 1, url=response.url)

    def list_links(self, response) -> list[tuple[str, str, int | None]]:
        """The page's question links (`crawler/parsers/ohouse_html.py`), counted by parse path."""
        stats = self.crawler.stats
        read = ohouse_html.list_links(response)
        if read.path == "html":
            stats.inc_value("ohouse/list_parsed/html")
            stats.inc_value("ohouse/notice_skipped", read.notices)
            return read.links
        if read.notices:
            stats.inc_value("ohouse/notice_skipped", read.notices)
        stats.inc_value("ohouse/list_parsed/generic" if read.links else "ohouse/list_empty")
        return read.links

    # ------------------------------------------------------------------ questions

    def follow_question(self, qid: str, comment_count: int | None, url: str | None = None):
        if qid in self.seen:
            self.crawler.stats.inc_value("ohouse/duplicate_in_list")
            return
        self.seen.add(qid)
        known = self.known.get(qid)
        if (
            known is not None
            and comment_count is not None
            and known[0] == comment_count
            and not known[1]
            and not (len(known) > 3 and known[3])  # stored with comments missing: look again
        ):
            self.crawler.stats.inc_value("incremental/skipped")
            return
        yield self.question_request(qid, url=url, listed=comment_count)

    def question_request(
        self, qid: str, lastmod: str | None = None, url: str | None = None, listed: int | None = None
    ) -> scrapy.Request:
        """`listed`: the comment count the list card stated (the page's own count comes first)."""
        kwargs: dict[str, Any] = {"qid": qid, "lastmod": lastmod}
        if listed is not None:
            kwargs["listed"] = listed
        return scrapy.Request(
            url or self.url(f"/questions/{qid}"),
            callback=self.parse_question,
            errback=self.question_failed,
            cb_kwargs=kwargs,
            # one process: `self.seen` dedups (and a restart refetches); several: Redis' dupefilter
            dont_filter=self.distributed is None,
        )

    def deleted(self, qid: str, url: str | None = None) -> dict:
        return {"kind": "question", "source": self.source_name, "external_id": qid,
                "url": url or self.url(f"/questions/{qid}"), "is_deleted": True}  # fmt: skip

    def item_url(self, response, qid: str) -> str:
        """The question's URL as stored: `/questions/{id}` (any tracking parameters dropped), or the
        page's own path where it is not a `/questions/` page (2024 community posts)."""
        path = urlsplit(response.url).path
        if "/questions/" in path or not path.strip("/"):
            return self.url(f"/questions/{qid}")
        return response.urljoin(path)

    def parse_question(self, response, qid: str, lastmod: str | None = None, listed: int | None = None):
        for item in self.question_items(response, qid, lastmod, listed):
            if lastmod and isinstance(item, dict):
                item["lastmod"] = lastmod
            yield item

    def question_items(self, response, qid: str, lastmod: str | None, listed: int | None = None):
        """One question page → the item, by the first parse path that gives it whole: the JSON
        embedded in the page, else the HTML (+ `comments.json` for comments the page does not
        show). Only the page itself answering 404/410, or saying it was deleted, marks it deleted."""
        url = self.item_url(response, qid)
        if response.status in (404, 410):
            self.crawler.stats.inc_value("ohouse/question_gone")
            yield self.deleted(qid, url)
            return
        now = self.reference_time(response)
        data, broken = ohouse_json.embedded_json(response)
        if broken:
            self.crawler.stats.inc_value("ohouse/embedded_json_broken", broken)
        if data is not None:
            q, comments = ohouse_json.embedded_question(data)
            if q.get("is_deleted") or q.get("isDeleted") or ohouse_html.is_deleted_page(response):
                yield self.deleted(qid, url)
                return
            if q.get("id") is not None and comments is not None:
                item = question_from_json(q, comments, self.source_name, url, now)
                total = ohouse_json.embedded_total(data)
                if total is None or len(comments) >= total:
                    self.parsed(item, "embedded")
                    yield item
                    return
        if ohouse_html.is_deleted_page(response):
            yield self.deleted(qid, url)
            return
        fields, total = ohouse_html.question_fields(response, now)
        item = {"kind": "question", "source": self.source_name, "external_id": qid, "url": url, **fields}
        path = "html"
        if item.get("title") is None and item.get("body") is None:
            fallback = self.question_from_structure(response, qid, url, now)
            if fallback is not None:
                item, total, path = fallback, selectors.stated_total(response), "generic"
                item["comment_count"] = len(item["comments"]) if total is None else total
        if total is None and listed is not None and listed > len(item["comments"]):
            total = item["comment_count"] = listed  # the page states nothing; its list card did
            item["_count_from"] = "the list card states"
        item["lastmod"] = lastmod
        if item.get("title") is None and item.get("body") is not None:
            # the header moved out of the selectors' reach: the page's main <h1>, else the body
            item["title"] = ohouse_html.main_heading(response)
            if item["title"] is None:
                self.title_from_body(item)
            else:
                self.crawler.stats.inc_value("ohouse/title_from_h1")
        if not item.get("title") and "/questions/" in url:
            # a page without the question in its HTML (rendered by JavaScript): its JSON endpoint
            yield self.question_json_request(item)
            return
        yield from self.complete_comments(item, total, path)

    def question_from_structure(self, response, qid: str, url: str, now) -> dict | None:
        """The structural fallback (`crawler/parsers/generic.py`) when no era selector found the
        question, each field it found counted; None when it finds neither a title nor a body either."""
        got = ohouse_html.question_from_structure(response, now)
        if got is None:
            return None
        stats = self.crawler.stats
        for field in ("title", "body", "author_name", "posted_at", "view_count", "keywords", "category"):
            if got.get(field) not in (None, "", []):
                stats.inc_value(f"ohouse/generic_found/{field}")
        stats.inc_value("ohouse/generic_found/comments", len(got["comments"]))
        return {"kind": "question", "source": self.source_name, "external_id": qid, "url": url, **got}

    def title_from_body(self, item: dict) -> None:
        """No title found (the header is gone; `og:title`/`<title>` may well be the site's): the
        body's first sentence stands in, and the item says so."""
        sentence = ohouse_html.first_sentence(item["body"])
        if sentence:
            item["title"] = sentence
            item["title_from_body"] = True
            self.crawler.stats.inc_value("ohouse/title_from_body")
            self.logger.warning(
                "question %s: no title found; the body's first sentence stands in", item["url"]
            )

    def complete_comments(self, item: dict, total: int | None, path: str):
        """The item when it holds every comment (the stated `total`), else the `comments.json`
        pages (when they do not answer: the item as it is, marked `comments_incomplete`)."""
        if total is not None and len(item["comments"]) >= total:
            self.parsed(item, path)
            yield item
            return
        # fewer than stated, or the page does not say: ask the comment JSON (a 404 is "no JSON")
        item["_total_known"] = total is not None
        yield self.comments_request(item, 1, path=path, shown=item["comments"])

    def closed(self, reason: str) -> None:
        """The crawl's summary of the structural fallback: pages no era selector could read."""
        stats = self.crawler.stats
        n = (stats.get_value("ohouse/parsed/generic") or 0) + (
            stats.get_value("ohouse/list_parsed/generic") or 0
        )
        if n:
            stats.set_value("ohouse/fallback_pages", n)
            self.logger.warning(
                "%d pages parsed by the structural fallback: the selectors may be out of date "
                "(dobae crawl probe URL shows one page)",
                n,
            )

    def parsed(self, item: dict, path: str) -> None:
        """Stats of a finished item: its parse path and every field it lacks."""
        stats = self.crawler.stats
        stats.inc_value(f"ohouse/parsed/{path}")
        for field in TRACKED_FIELDS:
            if item.get(field) in (None, "", []):
                stats.inc_value(f"ohouse/missing/{field}")
        if item.get("comments_incomplete"):
            stats.inc_value("ohouse/comments_incomplete")

    def question_json_request(self, item: dict) -> scrapy.Request:
        return scrapy.Request(
            self.url(f"/questions/{item['external_id']}.json"),
            callback=self.parse_question_json,
            errback=self.question_json_failed,
            cb_kwargs={"item": item},
            dont_filter=True,
        )

    def parse_question_json(self, response, item: dict):
        """`/questions/{id}.json`; a 404 here means "no JSON", never "deleted"."""
        now = self.reference_time(response)
        q = ohouse_json.question_payload(response.text) if response.status < 400 else None
        if q is None:
            self.crawler.stats.inc_value("ohouse/question_json_absent")
            yield from self.complete_comments(item, None, "html")  # dropped as missing_title, counted
            return
        if q.get("is_deleted"):
            yield self.deleted(item["external_id"], item["url"])
            return
        new = question_from_json(q, item["comments"], self.source_name, item["url"], now)
        new["lastmod"] = item.get("lastmod")
        yield from self.complete_comments(new, parse_count(q.get("comment_count")), "json")

    def question_json_failed(self, failure):
        item = failure.request.cb_kwargs["item"]
        self.crawler.stats.inc_value("ohouse/question_json_failed")
        self.logger.warning("question JSON failed for %s: %s", failure.request.url, failure.value)
        return list(self.complete_comments(item, None, "html"))

    def comments_request(self, item: dict, page: int, path: str = "html", shown=None) -> scrapy.Request:
        return scrapy.Request(
            self.url(f"/questions/{item['external_id']}/comments.json?page={page}&per=10"),
            callback=self.parse_comments,
            errback=self.comments_failed,
            cb_kwargs={"item": item, "page": page, "path": path, "shown": shown or []},
            dont_filter=True,
        )

    def parse_comments(self, response, item: dict, page: int, path: str = "html", shown=None):
        """A `comments.json` page. Its comments replace the ones the HTML showed; when it does not
        answer (404: the site has no comment JSON; broken JSON) the question is stored with the
        comments it has, marked `comments_incomplete` — never dropped."""
        now = self.reference_time(response)
        try:
            got = ohouse_json.comments_payload(response.text, now) if response.status < 400 else None
        except (ValueError, KeyError, TypeError):
            self.crawler.stats.inc_value("ohouse/comments_json_broken")
            got = None
        if got is None:
            self.crawler.stats.inc_value(f"ohouse/comments_json_absent/{response.status}")
            why = (
                f"comments.json answered {response.status}"
                if response.status >= 400
                else "comments.json broken"
            )
            yield self.incomplete(item, page, path, shown, why)
            return
        comments, next_page = got
        item["comments"] = (item["comments"] if page > 1 else []) + comments
        if next_page:
            yield self.comments_request(item, int(next_page), path, shown)
        else:
            item.pop("_total_known", None)
            item.pop("_count_from", None)
            self.parsed(item, path)
            yield item

    def incomplete(self, item: dict, page: int, path: str, shown, why: str = "no comment JSON") -> dict:
        """The item with what it has: the HTML's comments and the JSON pages read so far."""
        have = {c["external_id"]: c for c in (item["comments"] if page > 1 else [])}
        for c in shown or []:
            have.setdefault(c["external_id"], c)
        item["comments"] = selectors.in_written_order(list(have.values()))
        if not item.pop("_total_known", True):  # the page stated no count: nothing known missing
            item.pop("_count_from", None)
            self.parsed(item, path)
            return item
        item["comments_incomplete"] = True
        stated_by = item.pop("_count_from", "the page states")
        item["comments_incomplete_reason"] = (
            f"{stated_by} {item.get('comment_count')} comment(s), {len(item['comments'])} could be read ({why})"
        )
        self.logger.info(
            "question %s: %d comment(s) found, the rest not reachable: stored marked comments_incomplete",
            item["external_id"], len(item["comments"]),
        )  # fmt: skip
        self.parsed(item, path)
        return item

    def comments_failed(self, failure):
        kw = failure.request.cb_kwargs
        self.crawler.stats.inc_value("ohouse/comments_failed")
        self.logger.warning("comments failed for %s: %s", failure.request.url, failure.value)
        why = f"comments.json failed: {type(failure.value).__name__}"
        return [self.incomplete(kw["item"], kw["page"], kw.get("path", "html"), kw.get("shown"), why)]

    def question_failed(self, failure):
        self.crawler.stats.inc_value("ohouse/question_failed")
        self.logger.error("question %s failed: %s", failure.request.url, failure.value)


_OWN_START = OhouseSpider.start  # as defined here, before `scrapy parse` replaces it
