"""Every era × JSON on/off × redesign on/off at the parse level: the `ohouse` spider's callbacks on
the pages the sandbox serves on 127.0.0.1 (`parse_crawl`: no engine, no database) give the era's
golden rows — through the era selectors on the research's markup, and through the structural
fallback (`generic`) once `--redesign` renamed every class, id and data-* attribute. Plus the
honest comment counts, a page without its header, the sidebar-keyword trap and `--redesign`
itself. `test_crawl_eras.py` runs the real `scrapy crawl` subprocesses into SQLite/PostgreSQL."""

from __future__ import annotations

import re

import httpx
import pytest
from parse_crawl import diff_rows, parse_crawl
from scrapy.http import HtmlResponse, Request

from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.golden import era_file, load_golden
from crawler.sandbox.redesign import redesign

DATE = {"Date": "Fri, 01 May 2026 03:00:00 GMT"}
# what the structure alone cannot give on 2024 pages: the category is a plain <span>, and so is
# a withdrawn author's name (1020) — every other field of every era is compared
NOT_STRUCTURAL = {"2024": {"category", "author"}}
RUNS = [(e, j, r) for e in ("2019", "2021", "2024") for j in (True, False) for r in (None, 7)]


@pytest.mark.parametrize(
    ("era", "json", "seed"),
    RUNS,
    ids=[f"{e}-{'json' if j else 'nojson'}-{'redesign' if r else 'plain'}" for e, j, r in RUNS],
)
def test_parsed_rows_equal_the_era_golden_rows(era, json, seed):
    site = Site(era=era, json=json, slow_s=0.0, redesign=seed)
    with serve_sandbox(site=site) as base:
        rows, stats, dropped = parse_crawl(base)
    golden = load_golden(era_file(era, json))
    fields = None
    if seed is not None and era in NOT_STRUCTURAL:
        fields = {"external_id", "url", "title", "body", "keywords", "posted_at", "view_count", "comment_count",
                  "scrap_count", "comments_incomplete", "comments"}  # fmt: skip
    diff = diff_rows(rows, golden, fields)
    assert not diff and not dropped, "\n".join(diff[:30])
    parsed = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("ohouse/parsed/")}
    assert sum(parsed.values()) == 62
    if seed is None:
        assert "generic" not in parsed and "ohouse/list_parsed/generic" not in stats, stats
    elif not json:  # every page needed the fallback: question pages and list pages
        assert parsed == {"generic": 62} and stats["ohouse/list_parsed/generic"] >= 4
        assert "ohouse/list_parsed/html" not in stats
    if not json:
        incomplete = sum(1 for g in golden if g["comments_incomplete"])
        assert stats.get("ohouse/comments_incomplete", 0) == incomplete > 0


def test_redesign_renames_every_class_id_and_data_attribute_but_no_payload():
    page = (
        '<div id="page" class="a b" data-react-props="{&quot;count&quot;:2}" data-x=1>'
        '<script id="__NEXT_DATA__" type="application/json">{"class":"a","x":"<p class=\\"k\\">"}</script>'
        "<p class='a'>text class=a</p></div>"
    )
    out = redesign(page, 7)
    assert redesign(page, 7) == out and redesign(page, 8) != out  # the same tokens for the same seed
    assert 'class="a b"' not in out and 'id="page"' not in out and "data-react-props" not in out
    assert "{&quot;count&quot;:2}" in out and '{"class":"a","x":"<p class=\\"k\\">"}' in out
    assert "text class=a" in out and out.count("<script") == 1
    tokens = re.findall(r'class="([^"]+)"', out)
    assert tokens[0].split()[0] == re.findall(r"class='([^']+)'", out)[0]  # "a" → one token everywhere
    with serve_sandbox(site=Site(era="2019", json=False, redesign=3)) as base:
        html = httpx.get(base + "/questions/1001").text
        assert "question__" not in html and "comment-feed" not in html and "data-comment-id" not in html
        assert "실크는 마르면서" in html and int(
            httpx.get(base + "/questions/1001").headers["content-length"]
        ) == len(html.encode())


def response(html: str, url: str = "http://127.0.0.1:9/questions/51234") -> HtmlResponse:
    return HtmlResponse(url, body=html.encode(), encoding="utf-8", headers=DATE, request=Request(url))


def new_spider():
    from scrapy.utils.test import get_crawler

    from crawler.spiders.ohouse import OhouseSpider

    crawler = get_crawler(OhouseSpider, {"ITEM_PIPELINES": {}})
    crawler.spider = crawler._create_spider(base_url="http://127.0.0.1:9")
    return crawler.spider


def test_stated_comment_count_without_comments_is_incomplete_with_a_reason():
    """2019 server HTML: the feed is an empty mount point whose props (and the Kakao share data)
    state 2 comments: never "0 comments"."""
    from crawler.items import QuestionItem
    from crawler.pipelines import raw_notes

    page = (
        '<article id="page"><h1 id="question-name">벽지 들뜸</h1><section class="question__content__body">'
        '<p>들떴어요.</p></section></article><div id="kakaoTemplateData" data-comment_count="2"></div>'
        '<div data-react-class="CommentFeed" data-react-props="{&quot;count&quot;:2,&quot;total_count&quot;:2,'
        '&quot;comment_name&quot;:&quot;답글&quot;}"></div>'
    )
    spider = new_spider()
    [req] = spider.parse_question(response(page), qid="51234")
    assert "comments.json" in req.url
    gone = HtmlResponse(req.url, body=b"{}", status=404, headers=DATE, request=Request(req.url))
    [item] = spider.parse_comments(gone, **req.cb_kwargs)
    q = QuestionItem.model_validate(item)
    assert (q.comment_count, len(q.comments), q.comments_incomplete) == (2, 0, True)
    assert raw_notes(q) == {"comments_incomplete": "the page states 2 comment(s), 0 could be read "
                                                   "(comments.json answered 404)"}  # fmt: skip
    # the same page renamed by a redesign: the count comes from the props' JSON, not their names
    spider = new_spider()
    [req] = spider.parse_question(response(redesign(page, 5)), qid="51234")
    [item] = spider.parse_comments(gone, **req.cb_kwargs)
    assert (item["comment_count"], item["comments_incomplete"]) == (2, True)
    assert spider.crawler.stats.get_value("ohouse/parsed/generic") == 1


def test_a_page_without_its_header_keeps_body_and_comments():
    """The title's header gone: stored with the body's first sentence as its title, flagged; its
    body and comments kept — never dropped as `missing_title`. The header moved out of the
    selectors' reach: its `<h1>` is the title."""
    from crawler.items import QuestionItem

    with serve_sandbox(site=Site(era="2021", json=False, slow_s=0.0)) as base:
        html = httpx.get(base + "/questions/1001").text
    moved = re.sub(r"<h1 class=\"qna-detail__content__header-title\">.*?</h1>", "", html)
    moved = re.sub(r"<title>.*?</title>", "<title>오늘의집</title>", moved)
    assert moved != html
    spider = new_spider()
    [item] = spider.parse_question(response(moved, "http://127.0.0.1:9/questions/1001"), qid="1001")
    q = QuestionItem.model_validate(item)
    golden = {g["external_id"]: g for g in load_golden(era_file("2021", False))}["1001"]
    assert q.title_from_body and q.title == golden["body"].split("\n")[0]
    assert q.body == golden["body"] and len(q.comments) == len(golden["comments"]) == 3
    assert [c.body for c in q.comments] == [c["body"] for c in golden["comments"]]
    assert spider.crawler.stats.get_value("ohouse/title_from_body") == 1
    # the header moved below the comments under another class: its <h1> is still the title
    header = re.search(r"<header class=\"qna-detail__content__header\">.*?</header>", html).group(0)
    moved = html.replace(header, "").replace(
        "</main>", header.replace("qna-detail__content__", "x-") + "</main>"
    )
    spider = new_spider()
    [item] = spider.parse_question(response(moved, "http://127.0.0.1:9/questions/1001"), qid="1001")
    q = QuestionItem.model_validate(item)
    assert (q.title, q.title_from_body, q.body) == (golden["title"], False, golden["body"])
    assert len(q.comments) == 3 and spider.crawler.stats.get_value("ohouse/title_from_h1") == 1


@pytest.mark.parametrize("seed", [None, 11])
def test_sidebar_keywords_are_not_the_questions(seed):
    """2019 pages repeat the popular keywords in a sidebar inside the question's article, in the
    same `ul.keyword-list > a.keyword-item` markup: only the question's own are kept."""
    with serve_sandbox(site=Site(era="2019", json=False, slow_s=0.0, redesign=seed)) as base:
        html = httpx.get(base + "/questions/1001").text
    assert "인기 키워드" in html and html.count("#곰팡이") >= 1
    spider = new_spider()
    out = list(spider.parse_question(response(html, "http://127.0.0.1:9/questions/1001"), qid="1001"))
    item = out[0] if isinstance(out[0], dict) else out[0].cb_kwargs["item"]
    golden = {g["external_id"]: g for g in load_golden(era_file("2019", False))}["1001"]
    assert [k.lstrip("#") for k in item["keywords"]] == golden["keywords"] == ["도배", "벽지", "들뜸"]


def test_the_fallback_without_any_h1_takes_the_page_title_and_the_densest_block():
    """A redesigned page that lost its `<h1>` too: the title from `<title>` (site suffix cut), the
    body from the block with the most text of its own, the comments as before."""
    from crawler.items import QuestionItem

    with serve_sandbox(site=Site(era="2021", json=False, slow_s=0.0, redesign=2)) as base:
        html = httpx.get(base + "/questions/1001").text
    no_h1 = re.sub(r"<h1 [^>]*>[^<]*</h1>", "", html, count=1)
    assert no_h1 != html and no_h1.count("<h1") == html.count("<h1") - 1
    spider = new_spider()
    [item] = spider.parse_question(response(no_h1, "http://127.0.0.1:9/questions/1001"), qid="1001")
    q = QuestionItem.model_validate(item)
    golden = {g["external_id"]: g for g in load_golden(era_file("2021", False))}["1001"]
    assert (q.title, q.body, q.author_id) == (golden["title"], golden["body"], golden["author_id"])
    assert [c.body for c in q.comments] == [c["body"] for c in golden["comments"]]
    assert not q.title_from_body and spider.crawler.stats.get_value("ohouse/parsed/generic") == 1
