"""`dobae crawl probe URL`: what the `ohouse` spider makes of one page, without a crawl and without
the database — the item (validated as the pipeline would), the parse path it took
(`json`/`embedded`/`html`, or `generic`: the structural fallback), the fields it could not find,
and the requests it would make next. The tool to reach for when the site changed and a crawl stores less than it should.

Only the page's own follow-ups are fetched (its `comments.json` pages, its `.json` when the page
shows no question); links to other questions and list pages are listed, not followed.
robots.txt is obeyed like in a crawl.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from protego import Protego
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse

from foundation.errors import InputError
from foundation.fetch import Fetched, redact, redact_all, split_url
from foundation.fetch import fetch as bounded_fetch

MAX_FOLLOW_UPS = 20  # comment pages of one question


@dataclass
class Probe:
    url: str
    kind: str  # list | list_json | question | question_json | unknown
    items: list[dict] = field(default_factory=list)  # validated items (model_dump)
    dropped: list[str] = field(default_factory=list)  # items that would be dropped, with the reason
    parse_paths: dict[str, int] = field(default_factory=dict)  # question pages: json/embedded/html/generic
    list_paths: dict[str, int] = field(default_factory=dict)  # list pages: html (selectors) or generic
    missing: dict[str, int] = field(default_factory=dict)
    fetched: list[tuple[str, int]] = field(default_factory=list)  # (url, status)
    next_requests: list[str] = field(default_factory=list)  # what a crawl would request next
    stats: dict[str, Any] = field(default_factory=dict)


def _response(r: Fetched, url: str, request: Request) -> TextResponse:
    ctype = r.content_type
    cls = HtmlResponse if "html" in ctype or not ctype else TextResponse
    headers = {k: v for k, v in r.headers.items() if k.lower() != "content-encoding"}
    return cls(url, status=r.status, headers=headers, body=r.content, request=request)


def probe(url: str, *, base_url: str | None = None, obey_robots: bool = True) -> Probe:
    """Fetch `url` (and its own follow-ups), run the spider's callbacks, report what they yield."""
    from scrapy.utils.test import get_crawler

    from crawler.items import QuestionItem, drop_reason
    from crawler.parsers.ohouse_urls import classify_url
    from crawler.spiders.ohouse import OhouseSpider
    from foundation.settings import get_settings

    parts = split_url(url, "crawl probe")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"crawl probe: {redact(url)!r} is not an http(s) URL")
    base = (base_url or f"{parts.scheme}://{parts.netloc}").rstrip("/")
    crawler = get_crawler(OhouseSpider, {"ITEM_PIPELINES": {}})
    spider = OhouseSpider.from_crawler(crawler, base_url=base, incremental="false")
    crawler.spider = spider
    result = Probe(url=redact(url), kind=classify_url(url)[0])
    headers = {"User-Agent": get_settings().crawl.user_agent}
    with httpx.Client(headers=headers, follow_redirects=False) as client:
        robots = None
        if obey_robots:  # unreachable: one line (the page itself would fail the same way)
            r = bounded_fetch(
                f"{parts.scheme}://{parts.netloc}/robots.txt",
                client=client,
                follow_redirects=False,
                what="crawl probe",
            )
            robots = Protego.parse(r.content.decode("utf-8", "replace") if r.status == 200 else "")

        def fetch(target: str, request: Request) -> TextResponse:
            for _ in range(5):  # redirects, but never into a sign-in page
                if robots is not None and not robots.can_fetch(target, headers["User-Agent"]):
                    raise InputError(
                        f"crawl probe: robots.txt forbids {redact(target)} (--ignore-robots to fetch anyway)"
                    )
                r = bounded_fetch(target, client=client, follow_redirects=False, what="crawl probe")
                result.fetched.append((redact(target), r.status))
                location = r.headers.get("location", "")
                if r.status in (301, 302, 303, 307, 308) and location and "sign_in" not in location:
                    target = str(httpx.URL(target).join(location))
                    continue
                return _response(r, target, request)
            raise InputError(f"crawl probe: too many redirects from {redact(url)}")

        first = Request(url, callback=spider.parse)
        pending: list[tuple[Request, Any]] = [(first, spider.parse(fetch(url, first)))]
        follow_ups = 0
        while pending:
            request, output = pending.pop(0)
            for out in output or []:
                if isinstance(out, Request):
                    own = out.callback in (spider.parse_comments, spider.parse_question_json)
                    if own and follow_ups < MAX_FOLLOW_UPS:
                        follow_ups += 1
                        pending.append((out, out.callback(fetch(out.url, out), **out.cb_kwargs)))
                    else:
                        result.next_requests.append(redact(out.url))
                elif isinstance(out, dict):
                    try:
                        item = QuestionItem.model_validate(out).model_dump(mode="json")
                        result.items.append(redact_all(item))
                    except ValueError as exc:
                        result.dropped.append(f"{out.get('external_id')}: {drop_reason(exc)}")
    stats = crawler.stats.get_stats()
    result.stats = {k: v for k, v in stats.items() if k.startswith("ohouse/")}
    result.parse_paths = {k.split("/")[-1]: v for k, v in stats.items() if k.startswith("ohouse/parsed/")}
    result.list_paths = {k.split("/")[-1]: v for k, v in stats.items() if k.startswith("ohouse/list_parsed/")}
    result.missing = {k.split("/")[-1]: v for k, v in stats.items() if k.startswith("ohouse/missing/")}
    return result
