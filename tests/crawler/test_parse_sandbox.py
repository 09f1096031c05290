"""`ohouse` callbacks on pages the sandbox serves, for every live question and each page variant
the crawl may meet — the Next.js `__NEXT_DATA__` post (camelCase), and the 2019 HTML detail page
without its embedded JSON (then `comments.json` pages) — through the real validation and
normalisation: each gives exactly the golden row. (The embedded `data-react-props` variant is what
the integration crawl in test_crawl_sandbox.py stores.)"""

from __future__ import annotations

import re

import httpx
import pytest
from crawl_helpers import expected_rows
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.utils.test import get_crawler

from crawler.items import QuestionItem
from crawler.pipelines import normalize_question, pseudonym
from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.golden import golden_rows
from crawler.spiders.ohouse import OhouseSpider
from foundation.settings import get_settings

PROPS = re.compile(r'\sdata-react-props="[^"]*"')


@pytest.fixture(scope="module")
def sandbox():
    site = Site(late_post=False, slow_s=0.0)
    with serve_sandbox(site=site) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield site, base, client


@pytest.fixture
def spider(sandbox):
    _site, base, _client = sandbox
    crawler = get_crawler(OhouseSpider, {"ITEM_PIPELINES": {}})
    crawler.spider = crawler._create_spider(base_url=base)
    return crawler.spider


def response(client: httpx.Client, base: str, path: str, cls=HtmlResponse, edit=None):
    for _ in range(3):  # the faults (503 twice, 429 once, a body cut short once) pass on retrying
        try:
            r = client.get(path)
        except httpx.RemoteProtocolError:
            continue
        if r.status_code not in (429, 503):
            break
    assert r.status_code == 200, (path, r.status_code)
    body = r.content if edit is None else edit(r.text).encode("utf-8")
    url = base + path
    return cls(url, body=body, status=200, headers=dict(r.headers), encoding="utf-8", request=Request(url))


def row(item: dict) -> dict:
    """A spider item → the stored row's shape of crawl_helpers.expected_rows (pipeline rules)."""
    salt = get_settings().crawl.author_salt.get_secret_value()
    norm = normalize_question(QuestionItem.model_validate(item), lambda s, i, n: pseudonym(s, i, n, salt))
    q = norm["question"]
    answers = [
        {"external_id": a["external_id"], "parent_external_id": a["parent_external_id"], "body": a["body"],
         "author": a["author_pseudonym"], "author_badge": a["author_badge"], "is_adopted": a["is_adopted"],
         "like_count": a["like_count"], "posted_at": a["posted_at"].isoformat(), "is_deleted": a["is_deleted"]}
        for a in norm["answers"]
    ]  # fmt: skip
    return {
        "url": q["url"], "title": q["title"], "body": q["body"], "category": q["category"],
        "keywords": q["keywords"], "author": q["author_pseudonym"], "posted_at": q["posted_at"].isoformat(),
        "view_count": q["view_count"], "comment_count": q["comment_count"], "scrap_count": q["scrap_count"],
        "like_count": q["like_count"], "is_deleted": q["is_deleted"],
        "comments_incomplete": q["comments_incomplete"], "answers": answers,
    }  # fmt: skip


def expected(base: str, site: Site) -> dict[str, dict]:
    rows = expected_rows(base, golden_rows(site))
    for r in rows.values():
        r.pop("pairs")
    return rows


def test_next_data_posts_give_the_golden_rows(sandbox, spider):
    site, base, client = sandbox
    want = expected(base, site)
    for qid, golden in want.items():
        path = f"/community/posts/wallpaper-question-{qid}"
        items = list(spider.parse_question(response(client, base, path), qid=qid))
        assert len(items) == 1 and isinstance(items[0], dict), (qid, items)
        assert row(items[0]) == {**golden, "url": base + path}, qid  # stored under the post's own URL
    # the camelCase comment fields really were read: a deleted comment with live replies, adopted answers
    c1022 = {a["external_id"]: a for a in want["1022"]["answers"]}
    assert c1022["102201"]["is_deleted"] and c1022["102202"]["parent_external_id"] == "102201"
    assert any(a["is_adopted"] for g in want.values() for a in g["answers"])


def test_html_detail_pages_without_embedded_json_give_the_golden_rows(sandbox, spider):
    """The 2019 markup only (`data-react-props` removed): HTML fields and the comments the feed
    shows; comments.json pages only where the feed shows fewer than its count."""
    site, base, client = sandbox
    want = expected(base, site)
    for qid, golden in want.items():
        path = f"/questions/{qid}"
        out = list(
            spider.parse_question(response(client, base, path, edit=lambda t: PROPS.sub("", t)), qid=qid)
        )
        assert len(out) == 1, (qid, out)
        # the feed shows 10 comments: more than that come from comments.json, the rest from the HTML
        assert isinstance(out[0], Request) == (len(golden["answers"]) > 10), (qid, out)
        req = out[0]
        while isinstance(req, Request):  # follow the comment pages as the crawl would
            path = req.url[len(base) :]
            [req] = list(
                spider.parse_comments(response(client, base, path, cls=TextResponse), **req.cb_kwargs)
            )
        item = req
        item.pop("lastmod", None)
        assert not item.get("comments_incomplete")
        assert row(item) == golden, qid
