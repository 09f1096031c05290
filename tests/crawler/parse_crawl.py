"""A crawl without Scrapy's engine, for the parse-level tests: the `ohouse` spider's own callbacks
on pages the sandbox serves on 127.0.0.1 (httpx, one request at a time), its items validated and
normalised as the pipelines do — no database. Fast enough to run every era × JSON × redesign
combination; `test_crawl_eras.py` runs the real `scrapy crawl` subprocesses.

What the engine would add is done here plainly: redirects (never into a sign-in page), retries of
5xx/429 and cut bodies (3 tries, no wait: the sandbox's faults do not need one), errbacks after
the last try.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC

import httpx
from scrapy import Request
from twisted.python.failure import Failure

from crawler.items import QuestionItem, drop_reason
from crawler.pipelines import normalize_question
from crawler.probe import _response
from foundation.fetch import Fetched


def parse_crawl(base_url: str, start: str = "/questions.json?page=1&per=20") -> tuple[dict, dict, list]:
    """(external id → row in the golden file's shape, the spider's stats, drop reasons)."""
    from scrapy.utils.test import get_crawler

    from crawler.spiders.ohouse import OhouseSpider

    crawler = get_crawler(OhouseSpider, {"ITEM_PIPELINES": {}})
    spider = OhouseSpider.from_crawler(crawler, base_url=base_url, incremental="false")
    crawler.spider = spider
    first = Request(base_url + start, callback=spider.parse)
    queue: deque = deque([first])
    rows: dict[str, dict] = {}
    dropped: list[str] = []
    with httpx.Client(timeout=10) as client:
        while queue:
            request = queue.popleft()
            output = fetch_and_call(client, request)
            for out in output or []:
                if isinstance(out, Request):
                    queue.append(out)
                elif isinstance(out, dict):
                    try:
                        item = QuestionItem.model_validate(out)
                    except ValueError as exc:
                        dropped.append(f"{out.get('external_id')}: {drop_reason(exc)}")
                        continue
                    rows[item.external_id] = golden_shape(item, base_url)
    return rows, crawler.stats.get_stats(), dropped


def fetch_and_call(client: httpx.Client, request: Request):
    url, error = request.url, None
    for _ in range(3):
        try:
            for _hop in range(5):
                r = client.get(url)
                if r.is_redirect and "sign_in" not in r.headers.get("location", ""):
                    url = str(r.url.join(r.headers["location"]))
                    continue
                break
        except httpx.HTTPError as exc:
            error = exc
            continue
        if r.is_redirect:
            return []  # into a sign-in page: not followed
        if r.status_code >= 500 or r.status_code == 429:
            error = RuntimeError(f"HTTP {r.status_code}")
            continue
        fetched = Fetched(str(r.url), r.status_code, r.headers, r.content, [])
        return request.callback(_response(fetched, str(r.url), request), **request.cb_kwargs)
    if request.errback is None:
        return []
    failure = Failure(error)
    failure.request = request  # type: ignore[attr-defined]
    return request.errback(failure)


def _utc(value) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def golden_shape(item: QuestionItem, base_url: str) -> dict:
    """A validated item, normalised as the pipeline does, in the golden rows' shape (authors as
    `id|nickname`: the pseudonym's inputs)."""
    if item.is_deleted:
        return {"external_id": item.external_id, "is_deleted": True}
    row = normalize_question(item, lambda source, aid, name: f"{aid}|{name}")
    q = row["question"]
    return {
        "external_id": q["external_id"], "url": q["url"].removeprefix(base_url), "title": q["title"],
        "body": q["body"], "category": q["category"], "keywords": q["keywords"], "author": q["author_pseudonym"],
        "posted_at": _utc(q["posted_at"]), "view_count": q["view_count"], "comment_count": q["comment_count"],
        "scrap_count": q["scrap_count"], "is_deleted": False, "comments_incomplete": q["comments_incomplete"],
        "comments": [
            {"external_id": a["external_id"], "parent_external_id": a["parent_external_id"], "body": a["body"],
             "author": a["author_pseudonym"], "author_badge": a["author_badge"], "is_adopted": a["is_adopted"],
             "like_count": a["like_count"], "posted_at": _utc(a["posted_at"]), "is_deleted": a["is_deleted"]}
            for a in row["answers"]
        ],
    }  # fmt: skip


def golden_view(g: dict) -> dict:
    """A golden JSONL row in `golden_shape`'s shape."""

    def author(aid, name):
        return f"{aid}|{name}"

    return {
        "external_id": g["external_id"], "url": g["url"], "title": g["title"], "body": g["body"],
        "category": g["category"], "keywords": g["keywords"], "author": author(g["author_id"], g["author_name"]),
        "posted_at": g["posted_at"], "view_count": g["view_count"], "comment_count": g["comment_count"],
        "scrap_count": g["scrap_count"], "is_deleted": False,
        "comments_incomplete": g.get("comments_incomplete", False),
        "comments": [
            {"external_id": c["external_id"], "parent_external_id": c["parent_external_id"], "body": c["body"],
             "author": None if c["is_deleted"] else author(c["author_id"], c["author_name"]),
             "author_badge": c["author_badge"], "is_adopted": c["is_adopted"], "like_count": c["like_count"],
             "posted_at": c["posted_at"], "is_deleted": c["is_deleted"]}
            for c in g["comments"]
        ],
    }  # fmt: skip


def diff_rows(got: dict, golden: list[dict], fields: set[str] | None = None) -> list[str]:
    """Differences between parsed rows and the golden rows (only `fields` when given)."""
    want = {g["external_id"]: golden_view(g) for g in golden}
    out = []
    live = {k: v for k, v in got.items() if not v.get("is_deleted")}
    for ext in sorted(set(live) | set(want), key=int):
        if ext not in live:
            out.append(f"{ext}: not parsed")
            continue
        if ext not in want:
            out.append(f"{ext}: parsed but not golden ({live[ext].get('title')!r})")
            continue
        for f in sorted(want[ext]):
            if fields is not None and f not in fields:
                continue
            a, b = live[ext].get(f), want[ext][f]
            if a != b:
                out.append(f"{ext}.{f}: parsed {str(a)[:200]!r} != golden {str(b)[:200]!r}")
    return out
