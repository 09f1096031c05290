"""`ohouse` callbacks on saved pages of each era of the real site (`tests/crawler/pages/`, written
for this project from the shared research, independently of the sandbox templates), through the
real item validation: 2019 BEM list and detail (empty comment mount point, and the rendered DOM
variant without comment ids), 2021 emotion list with a `<button>` paginator and the `qna-detail`
page logged in (App JSON) and logged out, 2024 Next.js posts with and without `__NEXT_DATA__`."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.utils.test import get_crawler

from crawler.items import QuestionItem
from crawler.spiders.ohouse import OhouseSpider

PAGES = Path(__file__).resolve().parent / "pages"
BASE = "http://127.0.0.1:9"
DATE = {"Date": "Fri, 01 May 2026 03:00:00 GMT"}  # relative dates count from here (12:00 KST)


def new_spider():
    crawler = get_crawler(OhouseSpider, {"ITEM_PIPELINES": {}})
    crawler.spider = crawler._create_spider(base_url=BASE)
    return crawler.spider


@pytest.fixture
def spider():
    return new_spider()


def page(name: str, url: str, status: int = 200) -> HtmlResponse:
    url = BASE + url
    body = (PAGES / name).read_bytes()
    return HtmlResponse(url, body=body, status=status, headers=DATE, encoding="utf-8", request=Request(url))


def json_404(url: str) -> TextResponse:
    url = url if url.startswith("http") else BASE + url
    return TextResponse(url, body=b'{"error":"not found"}', status=404, headers=DATE, request=Request(url))


def stats(spider) -> dict:
    return spider.crawler.stats.get_stats()


def test_2019_list_bem_cards_skip_notices_and_walk_to_the_stated_total(spider):
    out = list(spider.parse_question_list(page("2019_list.html", "/questions?page=1"), query="", page=1))
    urls = [r.url for r in out]
    assert urls == [
        BASE + "/questions/51234", BASE + "/questions/51230", BASE + "/questions/51229",
        BASE + "/questions?page=2",
    ]  # fmt: skip
    assert stats(spider)["ohouse/notice_skipped"] == 2
    # data-total=57, data-per=3 → 19 pages: page 19 stops, page 18 goes on (no hrefs anywhere)
    last = list(
        new_spider().parse_question_list(page("2019_list.html", "/questions?page=19"), query="", page=19)
    )
    assert not [r for r in last if "page=" in r.url]
    more = list(
        new_spider().parse_question_list(page("2019_list.html", "/questions?page=18"), query="", page=18)
    )
    assert [r.url for r in more if "page=" in r.url] == [BASE + "/questions?page=19"]


def test_2019_mount_point_asks_comments_json_and_a_404_stores_it_incomplete(spider):
    [req] = spider.parse_question(page("2019_question_mount.html", "/questions/51234"), qid="51234")
    assert req.url == BASE + "/questions/51234/comments.json?page=1&per=10"
    [item] = spider.parse_comments(json_404(req.url), **req.cb_kwargs)
    q = QuestionItem.model_validate(item)
    assert (q.title, q.author_id, q.author_name, q.keywords) == ("안방 벽지 이음새가 까맣게 변했어요", "880011", "봄날",
                                                                ["벽지", "이음새"])  # fmt: skip
    assert (
        q.body
        == "입주 1년 차인데 이음새 따라 검은 줄이 생겼어요.\n닦아도 안 지워집니다.\n\n곰팡이일까요, 풀 자국일까요?"
    )
    assert q.posted_at.isoformat() == "2019-05-14T00:30:14+00:00"  # <time datetime> first (seconds kept)
    assert (q.view_count, q.scrap_count, q.comment_count) == (1204, 7, 3)  # the count from the mount's props
    assert q.comments == [] and q.comments_incomplete and not q.is_deleted  # a JSON 404 is no deletion
    assert stats(spider)["ohouse/comments_json_absent/404"] == 1 and stats(spider)["ohouse/parsed/html"] == 1


def test_2019_rendered_feed_without_ids_nested_reply_and_deleted_comment(spider):
    [item] = spider.parse_question(page("2019_question_dom.html", "/questions/51234"), qid="51234")
    q = QuestionItem.model_validate(item)
    assert q.posted_at.isoformat() == "2019-05-14T00:30:00+00:00"  # the Korean text form
    a, reply, deleted = q.comments
    assert a.external_id.startswith("h") and reply.parent_external_id == a.external_id
    assert (a.author_id, a.author_name, a.body, a.like_count) == ("770002", "도배하는사람",
                                                                 "이음새 곰팡이예요.\n락스 희석액으로 닦고 말려 보세요.", 4)  # fmt: skip
    assert (reply.author_id, reply.body) == ("880011", "감사합니다, 해 볼게요!")
    assert deleted.is_deleted and deleted.author_name is None and deleted.parent_external_id is None
    assert not q.comments_incomplete
    # ids made from what a comment shows are stable: the same page gives the same ids
    [again] = spider.parse_question(page("2019_question_dom.html", "/questions/51234"), qid="51234")
    assert [c["external_id"] for c in again["comments"]] == [c.external_id for c in q.comments]


def test_2021_list_button_paginator_goes_to_the_next_page_number(spider):
    out = list(spider.parse_question_list(page("2021_list.html", "/questions?page=1"), query="", page=1))
    assert [r.url for r in out] == [
        BASE + "/questions/77001",
        BASE + "/questions/76990",
        BASE + "/questions?page=2",
    ]
    # a page without cards ends the walk
    empty = HtmlResponse(
        BASE + "/questions?page=9", body="<p>검색 결과가 없습니다</p>".encode(), encoding="utf-8"
    )
    assert list(spider.parse_question_list(empty, query="", page=9)) == []


def test_2021_logged_in_page_prefers_the_app_json(spider):
    [item] = spider.parse_question(page("2021_question_logged_in.html", "/questions/77001"), qid="77001")
    q = QuestionItem.model_validate(item)
    assert q.view_count == 12000 and q.comments[0].author_badge == "expert"
    assert stats(spider)["ohouse/parsed/embedded"] == 1


def test_2021_logged_out_page_nested_replies_mentions_and_sign_in_links(spider):
    [req] = spider.parse_question(page("2021_question_logged_out.html", "/questions/77001"), qid="77001")
    assert req.url == BASE + "/questions/77001/comments.json?page=1&per=10"  # 3 shown of 5
    [item] = spider.parse_comments(json_404(req.url), **req.cb_kwargs)
    q = QuestionItem.model_validate(item)
    assert q.title == "실크벽지 들뜸 & 하자보수 받을 수 있나요?" and q.category == "도배"
    assert (q.author_id, q.author_name, q.keywords) == ("990001", "새내기", ["실크벽지", "들뜸"])
    assert q.posted_at.isoformat() == "2026-04-28T03:00:00+00:00"  # "3일 전" against the Date header
    assert (q.view_count, q.comment_count, q.comments_incomplete) == (12000, 5, True)
    first, reply, withdrawn = q.comments
    assert (first.author_id, first.author_badge, first.is_adopted, first.like_count) == (
        "990002",
        "expert",
        True,
        2,
    )
    assert (
        first.body == "시공사에 하자보수 요청하세요.\n보통 1년은 무상이에요."
    )  # no "좋아요"/"답글 달기" text
    assert (
        reply.parent_external_id == first.external_id and reply.body == "1년 넘었으면요?"
    )  # @mention dropped
    assert reply.author_id == "990001" and reply.posted_at.isoformat() == "2026-04-29T15:00:00+00:00"  # 어제
    assert (withdrawn.author_id, withdrawn.author_name, withdrawn.body) == (
        None,
        "탈퇴한 사용자",
        "저도 같은 증상이에요 ㅠㅠ",
    )


def test_2024_next_data_post(spider):
    url = "/community/posts/%EB%B2%BD%EC%A7%80-2840133"
    [item] = spider.parse_question(page("2024_post.html", url), qid="2840133")
    q = QuestionItem.model_validate(item)
    assert q.url == BASE + url and q.title == "벽지 곰팡이 제거 후기"
    assert q.body == "락스 희석액으로 닦고 방곰팡이제를 발랐어요.\n한 달째 괜찮습니다."
    assert (q.author_id, q.author_name, q.view_count, q.like_count) == ("13572468", "곰팡이헌터", 5321, 12)
    assert q.posted_at.isoformat() == "2024-06-01T08:15:00+00:00"
    assert [(c.external_id, c.parent_external_id) for c in q.comments] == [
        ("99100", None),
        ("99101", "99100"),
    ]


def test_2024_server_html_without_next_data(spider):
    url = "/community/posts/x-2840133"
    [req] = spider.parse_question(page("2024_post_html_only.html", url), qid="2840133")
    [item] = spider.parse_comments(json_404(req.url), **req.cb_kwargs)
    q = QuestionItem.model_validate(item)
    assert q.url == BASE + url and q.category == "곰팡이" and q.keywords == ["곰팡이"]
    assert q.body == "락스 희석액으로 닦고 방곰팡이제를 발랐어요.\n한 달째 괜찮습니다."
    assert q.posted_at.isoformat() == "2026-04-30T22:00:00+00:00"  # "5시간 전"
    assert (q.view_count, q.comment_count, q.comments_incomplete) == (5321, 4, True)
    a, b = q.comments
    assert (a.external_id, a.like_count, a.posted_at.isoformat()) == ("99100", 1, "2026-05-01T03:00:00+00:00")
    assert (b.parent_external_id, b.author_badge, b.posted_at.isoformat()) == (
        "99100",
        "seller",
        "2024-06-02T02:00:00+00:00",
    )


def test_2024_feed_skips_the_pinned_post_and_walks_page_numbers(spider):
    url = "/community/posts?page=1"
    out = list(spider.parse_question_list(page("2024_list.html", url), query="", page=1))
    assert [r.url for r in out] == [
        BASE + "/community/posts/%EB%B2%BD%EC%A7%80-%EA%B3%B0%ED%8C%A1%EC%9D%B4-%EC%A0%9C%EA%B1%B0-%ED%9B%84%EA%B8%B0-2840133",
        BASE + "/community/posts/%EA%B2%B0%EB%A1%9C-2840120",
        BASE + "/community/posts?page=2",
    ]  # fmt: skip
    assert [r.cb_kwargs["qid"] for r in out[:2]] == ["2840133", "2840120"]


def test_question_page_404_is_deletion_but_a_json_404_is_not(spider):
    [gone] = spider.parse_question(
        page("2019_question_mount.html", "/questions/51234", status=404), qid="51234"
    )
    assert gone["is_deleted"]
    [req] = spider.parse_question(page("2019_question_mount.html", "/questions/51234"), qid="51234")
    [kept] = spider.parse_comments(json_404(req.url), **req.cb_kwargs)
    assert not kept.get("is_deleted") and kept["title"]


def test_era_site_arguments_are_checked():
    from crawler.sandbox import Site
    from foundation.errors import ConfigError

    with pytest.raises(ConfigError, match="--era 2020: use one of 2019, 2021, 2024"):
        Site(era="2020")
    with pytest.raises(ConfigError, match="--no-json needs an --era"):
        Site(json=False)


# ----------------------------------------------------------------------------- the research's markup
# pages written from "The real markup of each era" (`../shared/research/ohouse-site.md`), each
# read through the era selectors and, renamed by a redesign, through the structural fallback


def redesigned(name: str, url: str) -> HtmlResponse:
    from crawler.sandbox.redesign import redesign

    url = BASE + url
    body = redesign((PAGES / name).read_text(encoding="utf-8"), 5).encode()
    return HtmlResponse(url, body=body, headers=DATE, encoding="utf-8", request=Request(url))


@pytest.mark.parametrize("renamed", [False, True], ids=["selectors", "fallback"])
def test_2019_list_link_wraps_the_card_with_tracking_parameters(renamed):
    spider = new_spider()
    get = redesigned if renamed else page
    out = list(
        spider.parse_question_list(get("2019_list_wrapped.html", "/questions?page=1"), query="", page=1)
    )
    assert [(r.url, r.cb_kwargs.get("listed")) for r in out] == [
        (BASE + "/questions/61002", 4), (BASE + "/questions/60990", 0), (BASE + "/questions?page=2", None),
    ]  # fmt: skip  # "답글 N" read; no taxonomy link, no nav link followed; data-total=57 → 3 pages
    path = "generic" if renamed else "html"
    assert stats(spider)[f"ohouse/list_parsed/{path}"] == 1
    last = list(
        new_spider().parse_question_list(get("2019_list_wrapped.html", "/questions?page=3"), query="", page=3)
    )
    if not renamed:  # the renamed page has no data-total to stop at: it walks on until an empty page
        assert not [r for r in last if "page=" in r.url]


@pytest.mark.parametrize("renamed", [False, True], ids=["selectors", "fallback"])
def test_2019_rendered_feed_logged_out_and_the_sidebar_keyword_trap(renamed):
    spider = new_spider()
    get = redesigned if renamed else page
    [item] = spider.parse_question(get("2019_question_rendered.html", "/questions/61002"), qid="61002")
    q = QuestionItem.model_validate(item)
    assert (q.title, q.author_id, q.author_name) == ("욕실 문 옆 벽지 곰팡이", "440021", "하늘색")
    assert q.body == "욕실 문 옆 벽지에 검은 점이 번져요.\n\n락스로 닦아도 될까요?"
    assert q.keywords == ["곰팡이"]  # not the sidebar's 결로, 셀프도배, 몰딩
    assert (q.view_count, q.scrap_count, q.comment_count, q.comments_incomplete) == (301, None, 2, False)
    a, b = q.comments
    assert (a.author_id, a.body, a.like_count) == ("550310", "희석한 락스로 닦고\n환기 잘 시키세요.", 6)
    assert (b.author_id, b.body, b.like_count, b.parent_external_id) == ("440021", "감사합니다!", 0, None)
    assert a.posted_at.isoformat() == "2019-05-14T01:00:00+00:00"
    assert stats(spider)[f"ohouse/parsed/{'generic' if renamed else 'html'}"] == 1


@pytest.mark.parametrize("renamed", [False, True], ids=["selectors", "fallback"])
def test_2021_detail_classes_nested_replies_relative_times(renamed):
    spider = new_spider()
    get = redesigned if renamed else page
    [item] = spider.parse_question(get("2021_question_detail.html", "/questions/88010"), qid="88010")
    q = QuestionItem.model_validate(item)
    assert (q.title, q.author_id, q.author_name) == ("안방 천장 벽지 처짐", "771100", "초보집사")
    assert (
        q.body == "안방 천장 벽지가 가운데가 처졌어요.\n풀이 마르면 올라붙을까요?\n\n시공한 지 열흘 됐습니다."
    )
    assert q.keywords == ["천장", "벽지"] and q.view_count == 1532
    assert q.posted_at.isoformat() == "2021-12-01T00:30:00+00:00"  # a <time> without datetime
    assert (q.comment_count, q.comments_incomplete) == (3, False)
    first, reply, other = q.comments
    assert (first.author_id, first.like_count, first.posted_at.isoformat()) == (
        "771200",
        3,
        "2026-04-30T22:00:00+00:00",
    )
    assert (reply.parent_external_id, reply.body, reply.author_id) == (
        first.external_id,
        "네 연락해 볼게요",
        "771100",
    )
    assert reply.like_count == (None if renamed else 0)  # "likes--zero": a class the fallback cannot read
    assert (other.parent_external_id, other.body) == (None, "저희 집도 그랬는데 결국 재시공했어요")


def test_a_list_card_count_stands_in_when_the_page_states_none(spider):
    """A question page that states no count and shows no comment, listed with "답글 4": after the
    comment JSON 404s it is stored incomplete with the list card as the reason, not "0 of 0"."""
    html = "<main><h1>벽지 질문</h1><section><p>본문입니다.</p></section></main>"
    url = BASE + "/questions/61002"
    resp = HtmlResponse(url, body=html.encode(), encoding="utf-8", headers=DATE, request=Request(url))
    [req] = spider.parse_question(resp, qid="61002", listed=4)
    [item] = spider.parse_comments(json_404(req.url), **req.cb_kwargs)
    q = QuestionItem.model_validate(item)
    assert (q.comment_count, q.comments, q.comments_incomplete) == (4, [], True)
    assert (
        q.comments_incomplete_reason
        == "the list card states 4 comment(s), 0 could be read (comments.json answered 404)"
    )
