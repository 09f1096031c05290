"""The sandbox site: every route and edge case of crawler/sandbox/CONTRACT.md, served on 127.0.0.1
(port 0) by uvicorn in a background thread and fetched with httpx."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest
from parsel import Selector

from crawler.normalize import html_to_text, parse_count, parse_korean_datetime
from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.content import NOW, emotion_hash, utc_iso


@pytest.fixture(scope="module")
def site():
    return Site(slow_s=0.3)


@pytest.fixture(scope="module")
def client(site):
    with serve_sandbox(site=site) as base, httpx.Client(base_url=base, timeout=10) as c:
        yield c


def props(page: str) -> dict:
    raw = Selector(text=page).css("[data-react-props]::attr(data-react-props)").get()
    return json.loads(raw)


def test_every_response_has_the_fixed_clock(client):
    r = client.get("/robots.txt")
    assert r.headers["date"] == "Fri, 01 May 2026 03:00:00 GMT"
    assert (
        "Disallow: /users/" in r.text
        and "Disallow: /questions/new" in r.text
        and "Disallow: /*/report" in r.text
    )
    assert f"Sitemap: {client.base_url}/sitemap.xml".replace("//sitemap", "/sitemap") in r.text


def test_sitemap_index_and_urlset_with_lastmod(client, site):
    index = Selector(text=client.get("/sitemap.xml").text, type="xml")
    index.remove_namespaces()
    locs = index.css("sitemap loc::text").getall()
    assert [loc.rsplit("/", 1)[1] for loc in locs] == ["questions-1.xml"]
    urlset = Selector(text=client.get("/sitemaps/questions-1.xml").text, type="xml")
    urlset.remove_namespaces()
    urls = dict(
        zip(urlset.css("url loc::text").getall(), urlset.css("url lastmod::text").getall(), strict=True)
    )
    ids = {int(u.rsplit("/", 1)[1]) for u in urls}
    assert 1013 not in ids and 1014 not in ids and 1001 in ids and 1066 in ids
    # lastmod = the newest of the question and its comments (KST ISO)
    assert (
        urls[f"{client.base_url}/questions/1001".replace("//questions", "/questions")]
        == "2026-04-13T09:12:00+09:00"
    )
    assert client.get("/sitemaps/questions-2.xml").status_code == 404


def test_list_page_structure_notices_and_paginator(client):
    r = client.get("/questions", params={"page": 2})
    sel = Selector(text=r.text)
    cards = sel.css('[class*="QuestionContainer"]')
    notices = [c for c in cards if c.css('[class*="NoticeBadge"]')]
    assert [n.css("a::attr(href)").get() for n in notices] == [
        "/questions/2378",
        "/questions/2379",
        "/questions/2380",
    ]
    real = [c for c in cards if not c.css('[class*="NoticeBadge"]')]
    assert len(real) == 20
    cls = real[0].attrib["class"]
    assert re.fullmatch(r"css-[0-9a-z]{7}-QuestionContainer e[0-9a-f]{5}\d", cls)
    stats = real[0].css('[class*="QuestionStatsItem"]::text').getall()
    assert stats[1].startswith("댓글 ") and stats[2].startswith("조회 ")
    assert sel.css('[class*="FeedPaginatorContainer"] a::attr(href)').re(r"page=(\d+)")[:4] == [
        "1",
        "2",
        "3",
        "4",
    ]
    tracked = [h for h in sel.css('a[class*="QuestionLink"]::attr(href)').getall() if "affect_type" in h]
    assert tracked and all(h.startswith("/questions/") for h in tracked)
    chips = sel.css('[class*="KeywordList"] a::attr(href)').getall()
    assert any("query=" in h for h in chips)


def test_list_past_last_page_and_bad_page_numbers(client):
    r = client.get("/questions", params={"page": 99})
    assert r.status_code == 200 and "검색 결과가 없습니다" in r.text
    assert not [
        c for c in Selector(text=r.text).css('[class*="QuestionContainer"]') if not c.css('[class*="Notice"]')
    ]
    assert client.get("/questions", params={"page": 0}).status_code == 400
    assert client.get("/questions", params={"page": "abc"}).status_code == 400
    assert client.get("/questions.json", params={"page": "x"}).status_code == 400


def test_query_order_and_no_answer_filters(client):
    got = client.get("/questions.json", params={"query": "곰팡이", "per": 100}).json()
    assert got["total_count"] == len(got["questions"]) > 5
    assert all(
        "곰팡이" in q["keywords"] or "곰팡이" in q["title"] or "곰팡이" in q["description"]
        for q in got["questions"]
    )
    popular = client.get("/questions.json", params={"order": "popular", "per": 5}).json()["questions"]
    views = [q["view_count"] or 0 for q in popular]
    assert views == sorted(views, reverse=True)
    waiting = client.get("/questions.json", params={"no_answer": "1", "per": 100}).json()["questions"]
    assert waiting and all(q["comment_count"] == 0 for q in waiting)
    assert client.get("/questions.json", params={"order": "bogus"}).status_code == 400


def test_questions_json_shape_and_truncated_page_3(client):
    data = client.get("/questions.json", params={"page": 1, "per": 20}).json()
    q = data["questions"][0]
    assert set(q) == {"id", "title", "description", "created_at", "view_count", "comment_count", "scrap_count",
                      "keywords", "image_url", "writer"}  # fmt: skip
    assert set(q["writer"]) == {"id", "nickname"}
    truncated = client.get("/questions.json", params={"page": 3}).text
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated)


def test_detail_page_2019_markup_and_react_props(client, site):
    r = client.get("/questions/1001")
    sel = Selector(text=r.text)
    assert sel.css("article#page::attr(data-question-id)").get() == "1001"
    assert sel.css("h1#question-name::text").get() == site.questions[1001].title
    assert sel.css("address.question__author a::attr(href)").get() == "/users/5001"
    assert (
        sel.css("time.question__content__footer__date::attr(datetime)").get() == "2026-04-12T21:14:00+09:00"
    )
    assert sel.css("time.question__content__footer__date::text").get() == "2026년 04월 12일 21:14"
    assert sel.css(".comment-feed__header__count::text").get() == "3"
    assert sel.css("ul.keyword-list a.keyword-item::text").getall() == ["#도배", "#벽지", "#들뜸"]
    # the attribute is entity-escaped JSON
    raw_attr = re.search(r'data-react-props="([^"]*)"', r.text).group(1)
    assert "&quot;question&quot;" in raw_attr
    data = props(r.text)
    assert data["comment_total"] == 3 and [c["id"] for c in data["comments"]] == [100101, 100102, 100103]
    first = data["comments"][0]
    assert (
        first["writer"] == {"id": 7001, "nickname": "도배기능사김", "badge": "expert"} and first["is_adopted"]
    )
    assert data["comments"][1]["parent_id"] == 100101
    article = sel.css("article.comment-feed__item[data-comment-id='100102']")
    assert article.attrib["data-parent-id"] == "100101"


def test_detail_json_and_comment_pages_with_a_repeated_comment(client):
    q = client.get("/questions/1023.json").json()
    assert q["comment_count"] == 12 and q["category"] == "도배" and "body_html" in q
    p1 = client.get("/questions/1023/comments.json", params={"page": 1}).json()
    p2 = client.get("/questions/1023/comments.json", params={"page": 2}).json()
    assert p1["total_count"] == 12 and p1["next_page"] == 2 and p2["next_page"] is None
    ids1, ids2 = [c["id"] for c in p1["comments"]], [c["id"] for c in p2["comments"]]
    assert ids1[-1] == ids2[0] == 102310
    assert sorted(set(ids1 + ids2)) == [102300 + i for i in range(1, 13)]
    # detail page HTML: first 10 comments and page buttons without hrefs
    sel = Selector(text=client.get("/questions/1023").text)
    assert len(sel.css("article.comment-feed__item")) == 10
    assert sel.css("button.comment-feed__paginator__page::attr(data-page)").getall() == ["1", "2"]


def test_soft_hard_deleted_members_only_and_trailing_slash(client):
    soft = client.get("/questions/1013")
    assert soft.status_code == 200 and "삭제된 질문입니다" in soft.text
    assert props(soft.text)["question"] == {"id": 1013, "is_deleted": True}
    assert client.get("/questions/1013.json").json() == {"id": 1013, "is_deleted": True}
    assert client.get("/questions/1014").status_code == 404
    listed = {q["id"] for q in client.get("/questions.json", params={"per": 100}).json()["questions"]}
    assert {1012, 1013, 1014, 1015} <= listed
    login = client.get("/questions/1012")
    assert login.status_code == 302 and login.headers["location"].startswith("/users/sign_in")
    slash = client.get("/questions/1001/", params={"utm_source": "x"})
    assert slash.status_code == 301 and slash.headers["location"] == "/questions/1001?utm_source=x"
    assert (
        client.get("/questions/1001", params={"affect_id": 0, "affect_type": "QuestionIndex"}).status_code
        == 200
    )
    assert client.get("/users/5001").status_code == 200  # exists; robots.txt disallows it


def test_faults_on_questions(client, site):
    assert client.get("/questions/1015").status_code == 500
    assert client.get("/questions/1015/comments.json").status_code == 500
    flaky = [client.get("/questions/1016") for _ in range(3)]
    assert [r.status_code for r in flaky] == [503, 503, 200]
    assert flaky[0].headers["retry-after"] == "1"
    limited = [client.get("/questions/1017") for _ in range(2)]
    assert [r.status_code for r in limited] == [429, 200] and limited[0].headers["retry-after"] == "1"
    with pytest.raises(httpx.ReadTimeout):
        client.get("/questions/1018", timeout=0.1)
    assert client.get("/questions/1018", timeout=5).status_code == 200
    with pytest.raises(json.JSONDecodeError):
        props(client.get("/questions/1019").text)
    with pytest.raises(httpx.RemoteProtocolError):  # body shorter than its Content-Length
        client.get("/questions/1024")
    assert client.get("/questions/1024").status_code == 200


def test_fault_routes_on_demand(client):
    assert client.get("/faults/500").status_code == 500
    assert [client.get("/faults/503", params={"key": "t"}).status_code for _ in range(3)] == [503, 503, 200]
    r = client.get("/faults/429", params={"retry_after": "7"})
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    with pytest.raises(json.JSONDecodeError):
        json.loads(client.get("/faults/truncated.json").text)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/faults/short")
    assert client.get("/faults/login").headers["location"].startswith("/users/sign_in")


def test_served_text_normalises_to_the_canonical_text(site):
    """The messy variants (entities, double escaping, NFD, zero-width, unclosed tags, <br>-only)
    become exactly the canonical values under crawler.normalize — what the golden rows hold."""
    checked = 0
    for q in site.questions.values():
        if q.deleted:
            continue
        assert " ".join((html_to_text(q.raw_title) or "").split()) == q.title, q.id
        assert (html_to_text(q.raw_html) or "") == q.text, q.id
        for c in q.comments:
            if not c.is_deleted:
                assert (html_to_text(c.raw_html) or "") == c.text, c.id
                checked += 1
    assert checked >= 100
    assert (
        "&amp;amp;" in site.questions[1030].raw_title
        and "&amp;lt;br&amp;gt;" in site.questions[1030].raw_html
    )
    assert "\u1103\u1169" in site.questions[1031].raw_html  # NFD 도
    assert "👨\u200d👩\u200d👧" in site.questions[1031].text


def test_text_edge_cases_in_the_served_json(client):
    q1030 = client.get("/questions/1030.json").json()
    assert q1030["title"] == "벽지 &amp;amp; 몰딩 색 조합 추천해 주세요"
    assert "&#x1F4A7;" in q1030["body_html"]
    q1020 = client.get("/questions/1020.json").json()
    assert q1020["writer"] == {"id": None, "nickname": "탈퇴한 사용자"} and q1020["view_count"] is None
    assert q1020["keywords"] == [] and q1020["created_at"] == "3일 전"
    sel = Selector(text=client.get("/questions/1020").text)
    assert sel.css("time.question__content__footer__date::attr(datetime)").get() is None
    assert not sel.css("address.question__author a")
    assert client.get("/questions/1021.json").json()["body_html"] == ""
    deleted = client.get("/questions/1022/comments.json").json()["comments"]
    assert deleted[0]["is_deleted"] and deleted[0]["writer"] is None
    assert [c["parent_id"] for c in deleted[1:3]] == [102201, 102201]
    huge = client.get("/questions/1040.json")
    assert huge.status_code == 200
    big = client.get("/questions/1040/comments.json").json()["comments"][0]["body_html"]
    assert len(big.encode()) > 150_000 and big.count("<br>") == 800 and big.count("<img") == 800


def test_relative_dates_and_counts(client):
    comments = client.get("/questions/1044/comments.json").json()["comments"]
    shown = [c["created_at"] for c in comments]
    assert shown == ["방금 전", "5분 전", "3시간 전", "어제", "2024.05.14", "2019년 05월 14일 09:30"]
    got = [utc_iso(parse_korean_datetime(s, NOW)) for s in shown]
    assert got == ["2026-05-01T03:00:00+00:00", "2026-05-01T02:55:00+00:00", "2026-05-01T00:00:00+00:00",
                   "2026-04-29T15:00:00+00:00", "2024-05-13T15:00:00+00:00", "2019-05-14T00:30:00+00:00"]  # fmt: skip
    views = {}
    for page in (1, 2, 3):
        sel = Selector(text=client.get("/questions", params={"page": page}).text)
        for card in sel.css("[data-question-id]"):
            views[card.attrib["data-question-id"]] = card.css('[class*="QuestionStatsItem"]::text').getall()[
                2
            ]
    assert views["1042"] == "조회 1,234" and views["1043"] == "조회 1.2만"
    assert parse_count(views["1043"]) == 12000
    titles = []
    for page in (1, 2, 3):
        sel = Selector(text=client.get("/questions", params={"page": page}).text)
        titles += sel.css("[data-question-id='1041'] [class*='QuestionTitle']::text").getall()
    title = titles[0] if titles else None
    assert title is not None and title.endswith("…") and len(title) == 61


def test_spa_pages_are_javascript_only(client):
    page = client.get("/spa/questions").text
    sel = Selector(text=page)
    assert sel.css("#root").get() == '<div id="root"></div>'
    assert "fetch('/questions.json" in page and "더보기" in page
    detail = client.get("/spa/questions/1001").text
    assert "data-comment-id" in detail and "comments.json" in detail and 'class="next"' in detail
    assert "도배한 지" not in detail  # the content only arrives through the script
    assert client.get("/spa/questions/1014").status_code == 404


def test_next_data_community_post(client, site):
    r = client.get("/community/posts/silk-wallpaper-1001")
    raw = Selector(text=r.text).css("script#__NEXT_DATA__::text").get()
    data = json.loads(raw)
    post = data["props"]["pageProps"]["dehydratedState"]["queries"][1]["state"]["data"]["post"]
    assert post["title"] == site.questions[1001].title
    assert post["writer"]["profile"]["nickname"] == "새집증후군" and post["commentCount"] == 3
    assert (
        "\n\n".join(c["text"] for c in post["components"] if c["componentType"] == "TEXT")
        == site.questions[1001].text
    )
    assert post["comments"][1]["parentId"] == 100101
    assert client.get("/community/posts/x-1014").status_code == 404
    assert client.get("/community/posts/nope").status_code == 404


def test_boards_kin_and_82cook_encodings(client):
    kin = Selector(text=client.get("/kin/list").text)
    assert kin.css("ul.board li.item a.title::attr(href)").getall()[0] == "/kin/detail?dirId=7&docId=5001"
    detail = Selector(text=client.get("/kin/detail", params={"dirId": 7, "docId": 5001}).text)
    assert detail.css("div._answer span.badge::text").get() == "질문자 채택"
    gone = client.get("/kin/detail", params={"docId": 5004}).text
    assert "삭제되었거나 존재하지 않" in gone
    lst = client.get("/82/list.php", params={"bn": 15})
    assert lst.headers["content-type"] == "text/html; charset=euc-kr"
    assert "합지벽지" in lst.content.decode("cp949")
    with pytest.raises(UnicodeDecodeError):
        lst.content.decode("utf-8")
    odd, even = client.get("/82/read.php?bn=15&num=301"), client.get("/82/read.php?bn=15&num=302")
    assert "charset=euc-kr" in odd.headers["content-type"] and "charset" not in even.headers["content-type"]
    assert b"<meta charset='euc-kr'>" in even.content and "장판이 들떠요" in even.content.decode("cp949")


def test_markup_churn_changes_every_hash(site):
    names = ["QuestionTitle", "QuestionContainer", "FeedPaginatorContainer"]
    before = {n: emotion_hash(n, 0) for n in names}
    after = {n: emotion_hash(n, 1) for n in names}
    assert all(before[n] != after[n] and after[n].split()[0].endswith("-" + n) for n in names)
    churned = Site(churn=3)
    with serve_sandbox(site=churned) as base:
        with httpx.Client(base_url=base) as c:
            first = Selector(text=c.get("/questions").text).css("[data-question-id]").attrib["class"]
            assert c.post("/_sandbox/churn", params={"value": 4}).json() == {"churn": 4}
            second = Selector(text=c.get("/questions").text).css("[data-question-id]").attrib["class"]
    assert first != second and first.split("-")[-1].startswith("QuestionContainer")


def test_late_post_shifts_the_list_between_requests():
    site = Site()
    with serve_sandbox(site=site) as base, httpx.Client(base_url=base) as c:
        p1 = [q["id"] for q in c.get("/questions.json", params={"page": 1}).json()["questions"]]
        p2 = [q["id"] for q in c.get("/questions.json", params={"page": 2}).json()["questions"]]
        assert 1066 not in p1 and p1[-1] == p2[0]  # the same question on pages 1 and 2
        assert c.get("/questions.json", params={"page": 1}).json()["questions"][0]["id"] == 1066
    calm = Site(late_post=False)
    with serve_sandbox(site=calm) as base, httpx.Client(base_url=base) as c:
        p1 = [q["id"] for q in c.get("/questions.json", params={"page": 1}).json()["questions"]]
        p2 = [q["id"] for q in c.get("/questions.json", params={"page": 2}).json()["questions"]]
        assert p1[0] == 1066 and not set(p1) & set(p2)


def test_edit_changes_content_and_lastmod():
    site = Site()
    with serve_sandbox(site=site) as base, httpx.Client(base_url=base) as c:
        r = c.post("/_sandbox/questions/1001/edit", params={"add_comment": "1"})
        assert r.json()["revision"] == 1 and r.json()["comment_count"] == 4
        assert r.json()["lastmod"] == "2026-05-01T12:01:00+09:00"
        page = props(c.get("/questions/1001").text)
        assert page["question"]["title"].endswith("(수정 1)") and len(page["comments"]) == 4
        xml = c.get("/sitemaps/questions-1.xml").text
        assert "/questions/1001</loc><lastmod>2026-05-01T12:01:00+09:00" in xml
        assert c.post("/_sandbox/questions/1014/edit").status_code == 404


def test_rate_limit_token_bucket():
    site = Site(rate_limit=2.0, burst=3)
    with serve_sandbox(site=site) as base, httpx.Client(base_url=base) as c:
        codes = [c.get("/robots.txt").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        limited = next(r for r in (c.get("/robots.txt") for _ in range(2)) if r.status_code == 429)
        assert int(limited.headers["retry-after"]) >= 1
    # deterministic given the clock: tokens refill at `rate_limit` per second
    bucket = Site(rate_limit=1.0, burst=2)
    waits = [bucket.take_token("a", t) for t in (0.0, 0.0, 0.0, 0.5, 1.0, 1.0)]
    assert waits == [0.0, 0.0, 1.0, 0.5, 0.0, 1.0]


def test_served_entities_in_the_react_props_attribute(client):
    r = client.get("/questions/1030")
    attr = re.search(r'data-react-props="([^"]*)"', r.text).group(1)
    assert json.loads(html.unescape(attr))["question"]["title"] == "벽지 &amp;amp; 몰딩 색 조합 추천해 주세요"
