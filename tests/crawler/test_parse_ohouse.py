"""`ohouse` callbacks on pages the tests write (2021 hashed-class list, 2019 detail, embedded JSON,
`__NEXT_DATA__`, deleted pages, truncated JSON), run through the real item validation."""

from __future__ import annotations

import html
import json

import pytest
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.utils.test import get_crawler

from crawler.items import QuestionItem
from crawler.spiders.ohouse import OhouseSpider

BASE = "http://127.0.0.1:9"
DATE = {"Date": "Fri, 01 May 2026 03:00:00 GMT"}


@pytest.fixture
def spider():
    crawler = get_crawler(OhouseSpider, {"ITEM_PIPELINES": {}})
    crawler.spider = crawler._create_spider(base_url=BASE, max_pages="3")
    return crawler.spider


def resp(url, body, status=200, cls=HtmlResponse):
    url = url if url.startswith("http") else BASE + url
    return cls(
        url, body=body.encode("utf-8"), status=status, headers=DATE, encoding="utf-8", request=Request(url)
    )


def card(qid, hash_="css-1a2b", comments=3, notice=False):
    kind = "NoticeContainer" if notice else "QuestionContainer"
    return (
        f'<div class="{hash_}-{kind} e1amn78m0 {hash_}-QuestionContainer"><a class="{hash_}-QuestionLink e1" '
        f'href="/questions/{qid}?affect_id=0&affect_type=QuestionIndex&query="><div class="{hash_}-QuestionTitle">제목 {qid}</div></a>'
        f'<ul><li class="{hash_}-QuestionStatsItem">어제</li><li class="{hash_}-QuestionStatsItem">댓글 {comments}</li>'
        f'<li class="{hash_}-QuestionStatsItem">조회 1,234</li></ul></div>'
    )


@pytest.mark.parametrize("hash_", ["css-13xsgfl", "css-zz9q0w"])  # markup churn: every emotion hash changes
def test_html_list_skips_notices_follows_cards_and_paginator(spider, hash_):
    body = (
        card("2378", hash_, notice=True)
        + card("101", hash_)
        + card("102", hash_, comments=0)
        + card("101", hash_)
        + f'<div class="{hash_}-FeedPaginatorContainer"><a href="/questions?page=2">2</a></div>'
    )
    out = list(spider.parse_question_list(resp("/questions?page=1", body), query="", page=1))
    urls = [r.url for r in out]
    assert urls == [BASE + "/questions/101", BASE + "/questions/102", BASE + "/questions?page=2"]
    assert spider.crawler.stats.get_value("ohouse/duplicate_in_list") == 1


def test_html_list_past_the_last_page_stops(spider):
    out = list(
        spider.parse_question_list(resp("/questions?page=9", "<p>검색 결과가 없습니다</p>"), query="", page=9)
    )
    assert out == []


def test_truncated_list_json_falls_back_to_html(spider):
    out = list(
        spider.parse_question_list_json(
            resp("/questions.json?page=1", '{"total_count": 3, "questions": [{"id": 1', cls=TextResponse),
            query="도배",
            page=1,
        )
    )
    assert [r.url for r in out] == [BASE + "/questions?page=1&query=%EB%8F%84%EB%B0%B0"]
    assert spider.crawler.stats.get_value("ohouse/list_json_broken") == 1


def test_list_json_schedules_questions_and_all_pages_up_to_max(spider):
    data = {"total_count": 95, "questions": [{"id": 7, "comment_count": 2}, {"id": 8, "comment_count": 0}]}
    out = list(
        spider.parse_question_list_json(
            resp("/questions.json?page=1", json.dumps(data), cls=TextResponse), query="", page=1
        )
    )
    assert [r.url for r in out] == [
        BASE + "/questions/7",
        BASE + "/questions/8",
        BASE + "/questions.json?page=2&per=20",
        BASE + "/questions.json?page=3&per=20",  # max_pages=3 of 5
    ]


def list_json(spider, page, total, ids, query=""):
    data = {"total_count": total, "questions": [{"id": i, "comment_count": 1} for i in ids]}
    url = f"/questions.json?page={page}"
    return [r.url for r in spider.parse_question_list_json(resp(url, json.dumps(data), cls=TextResponse),
                                                           query=query, page=page)]  # fmt: skip


def test_list_that_grows_mid_crawl_is_read_again_from_the_head(spider):
    """The late post: page 1 said 40, page 2 says 41 → page 1 again, and page 3 (41 > 2 × 20)."""
    assert list_json(spider, 1, 40, [1, 2]) == [BASE + "/questions/1", BASE + "/questions/2",
                                                BASE + "/questions.json?page=2&per=20"]  # fmt: skip
    assert list_json(spider, 2, 41, [2, 3]) == [
        BASE + "/questions/3",  # 2 again (shifted down): not fetched twice
        BASE + "/questions.json?page=1&per=20",
        BASE + "/questions.json?page=3&per=20",
    ]
    assert list_json(spider, 1, 41, [99, 1]) == [BASE + "/questions/99"]  # the new one, nothing more
    assert list_json(spider, 3, 41, [4]) == [BASE + "/questions/4"]  # same total: nothing re-read
    assert spider.crawler.stats.get_value("ohouse/list_reread") == 1


def test_truncated_json_page_falls_back_to_the_html_pages_covering_it():
    crawler = get_crawler(OhouseSpider, {"ITEM_PIPELINES": {}})
    spider = crawler._create_spider(base_url=BASE, per="50")
    body = '{"total_count": 300, "questions": [{"id": 1'
    out = list(spider.parse_question_list_json(resp("/questions.json?page=3", body, cls=TextResponse),
                                               query="", page=3))  # fmt: skip
    # JSON page 3 of 50 = items 101–150 = HTML pages 6, 7, 8 (20 cards each), no paginator walk
    assert [(r.url, r.cb_kwargs["follow"]) for r in out] == [
        (BASE + f"/questions?page={p}", False) for p in (6, 7, 8)
    ]


def test_html_list_with_a_card_seen_on_the_page_before_reads_page_1_again(spider):
    def page(ids):
        return (
            "".join(card(i) for i in ids)
            + '<div class="x-FeedPaginatorContainer"><a href="/questions?page=3">3</a></div>'
        )

    first = [
        r.url for r in spider.parse_question_list(resp("/questions?page=1", page([5, 4])), query="", page=1)
    ]
    assert first == [BASE + "/questions/5", BASE + "/questions/4", BASE + "/questions?page=2"]
    second = [
        r.url for r in spider.parse_question_list(resp("/questions?page=2", page([4, 3])), query="", page=2)
    ]
    assert second == [BASE + "/questions/3", BASE + "/questions?page=1", BASE + "/questions?page=3"]
    assert spider.crawler.stats.get_value("ohouse/list_reread") == 1


def props_page(props):
    return f"<div data-react-class='App' data-react-props=\"{html.escape(json.dumps(props, ensure_ascii=False))}\"></div>"


def validated(items):
    return [QuestionItem.model_validate(i) for i in items]


def test_embedded_react_props_question_with_all_comments(spider):
    props = {
        "question": {"id": 55, "title": "합지 벽지 이음새가 &amp;lt;br&amp;gt; 벌어져요", "body_html": "첫 줄<br>둘째 줄 &#x1F4A7;",
                     "created_at": "2019-05-14T09:30:14+09:00", "view_count": "1.2만", "keywords": ["도배"],
                     "writer": {"id": 3, "nickname": "탈퇴한 사용자"}, "category": "도배"},
        "comments": [
            {"id": 1, "body_html": "삭제된 댓글입니다", "is_deleted": True, "created_at": "3일 전", "writer": {"id": None}},
            {"id": 2, "parent_id": 1, "body_html": "답글은 살아있어요", "created_at": "5분 전", "writer": {"id": 9, "nickname": "a", "badge": "seller"}},
        ],
    }  # fmt: skip
    [item] = validated(spider.parse_question(resp("/questions/55", props_page(props)), qid="55"))
    assert item.title == "합지 벽지 이음새가 벌어져요" and item.body == "첫 줄\n둘째 줄 💧"
    assert item.view_count == 12000 and item.comment_count == 2
    c1, c2 = item.comments
    assert c1.is_deleted and c2.parent_external_id == "1" and c2.author_badge == "seller"
    assert c1.posted_at.isoformat() == "2026-04-28T03:00:00+00:00"  # 3일 전 from the server's Date
    assert c2.posted_at.isoformat() == "2026-05-01T02:55:00+00:00"


def test_next_data_variant(spider):
    post = {"id": 77, "title": "욕실 실리콘 곰팡이", "components": [{"componentType": "TEXT", "text": "검게 변했어요"},
            {"componentType": "IMAGE", "url": "/i.jpg"}], "writer": {"id": 4, "profile": {"nickname": "욕실"}},
            "createdAt": "2024-05-14T10:00:00+09:00", "viewCount": 10, "commentCount": 0}  # fmt: skip
    data = {"props": {"pageProps": {"dehydratedState": {"queries": [{"state": {"data": {"post": post}}}]}}}}
    body = (
        f'<script id="__NEXT_DATA__" type="application/json">{json.dumps(data, ensure_ascii=False)}</script>'
    )
    [item] = validated(spider.parse_question(resp("/community/posts/silicone-77", body), qid="77"))
    assert (item.title, item.body, item.author_name, item.view_count) == (
        "욕실 실리콘 곰팡이",
        "검게 변했어요",
        "욕실",
        10,
    )


def test_2019_html_detail_then_comment_pages_deduplicated(spider):
    body = (
        '<article id="page" data-question-id="31"><h1 id="question-name" class="question__content__header__name">'
        "도배지 들뜸</h1><address class='question__author'><a href='/users/12'><span class="
        "'question__author__content__name__name'>집주인</span></a></address><section class='question__content__body'>"
        "<p>들떴어요</p><img src='/a.jpg'></section><ul class='keyword-list'><a class='keyword-item'>#도배</a></ul>"
        "<time class='question__content__footer__date'>2019년 05월 14일 09:30</time></article>"
    )
    [req] = spider.parse_question(resp("/questions/31", body), qid="31")
    assert req.url == BASE + "/questions/31/comments.json?page=1&per=10"
    item = req.cb_kwargs["item"]
    assert (item["title"], item["author_id"], item["keywords"]) == ("도배지 들뜸", "12", ["#도배"])
    page1 = {"comments": [{"id": 1, "body_html": "a"}, {"id": 2, "body_html": "b"}], "next_page": 2}
    [req2] = spider.parse_comments(resp(req.url, json.dumps(page1), cls=TextResponse), **req.cb_kwargs)
    page2 = {"comments": [{"id": 2, "body_html": "b"}, {"id": 3, "body_html": "c"}], "next_page": None}
    [done] = validated(
        spider.parse_comments(resp(req2.url, json.dumps(page2), cls=TextResponse), **req2.cb_kwargs)
    )
    assert [c.external_id for c in done.comments] == ["1", "2", "3"]  # the repeated comment once
    assert done.posted_at.isoformat() == "2019-05-14T00:30:00+00:00" and done.body == "들떴어요"


def test_deleted_questions(spider):
    [soft] = spider.parse_question(
        resp("/questions/40", "<article id='page'><h1>삭제된 질문입니다</h1></article>"), qid="40"
    )
    [hard] = spider.parse_question(resp("/questions/41", "<h1>없음</h1>", status=404), qid="41")
    assert soft["is_deleted"] and hard["is_deleted"] and "title" not in hard
    assert QuestionItem.model_validate(hard).is_deleted
