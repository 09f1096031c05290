"""crawler.normalize: text, dates, counts and URLs as Korean Q&A sites print them."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest

from crawler.normalize import (
    canonical_url,
    clean_text,
    content_hash,
    html_to_text,
    parse_count,
    parse_korean_datetime,
    remove_zero_width,
)

NOW = datetime.fromisoformat("2026-05-01T12:00:00+09:00")


def utc(s: str) -> datetime:
    return datetime.fromisoformat(s).astimezone(UTC)


def test_html_keeps_line_and_paragraph_breaks():
    assert (
        html_to_text("첫 줄<br>둘째 줄<br/>셋째<p>새 문단</p><div>또 문단</div>")
        == "첫 줄\n둘째 줄\n셋째\n\n새 문단\n\n또 문단"
    )


def test_entities_including_double_escaped():
    text = html_to_text(
        "곰팡이 &amp; 결로&nbsp;문제 &#39;급&#39; &#x1F4A7;<br>&amp;lt;br&amp;gt;다음 줄 &amp;amp; 끝"
    )
    # the double-escaped <br> becomes a second line break, `&amp;amp;` a plain ampersand
    assert text == "곰팡이 & 결로 문제 '급' 💧\n\n다음 줄 & 끝"


def test_plain_text_with_escaped_less_than_stays_text():
    assert html_to_text("습도 &amp;lt; 60%") == "습도 < 60%"
    assert html_to_text("습도 &lt; 60%") == "습도 < 60%"


def test_nfd_becomes_nfc_and_zero_width_removed_but_emoji_zwj_kept():
    nfd = unicodedata.normalize("NFD", "벽지가 들떠요")
    assert nfd != "벽지가 들떠요"
    family = "👨\u200d👩\u200d👧"
    out = html_to_text(f"{nfd}\u200b\ufeff ㅠㅠ {family} 도\u200d배")
    assert out == f"벽지가 들떠요 ㅠㅠ {family} 도배"
    assert unicodedata.is_normalized("NFC", out)
    assert remove_zero_width("a\u200bb\u2060c") == "abc"


def test_unclosed_tags_scripts_images_and_br_only_body():
    assert html_to_text("<p>열린 태그<b>굵게<p>다음") == "열린 태그굵게\n\n다음"
    assert html_to_text('글<img src="a.jpg"><script>alert(1)</script>끝') == "글끝"
    assert html_to_text("<br><br><br>") == ""
    assert html_to_text(None) is None
    assert clean_text("  a \n\n\n\n b  ") == "a\n\nb"


def test_large_body_with_hundreds_of_breaks():
    body = "<br>".join(f"줄 {i}<img src='/i/{i}.jpg'>" for i in range(600))
    text = html_to_text(body)
    assert text.count("\n") == 599 and text.startswith("줄 0") and text.endswith("줄 599")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("방금 전", "2026-05-01T12:00:00+09:00"),
        ("5분 전", "2026-05-01T11:55:00+09:00"),
        ("3시간 전", "2026-05-01T09:00:00+09:00"),
        ("어제", "2026-04-30T00:00:00+09:00"),
        ("3일 전", "2026-04-28T12:00:00+09:00"),
        ("2024.05.14", "2024-05-14T00:00:00+09:00"),
        ("2024.05.14.", "2024-05-14T00:00:00+09:00"),
        ("2019년 05월 14일 09:30", "2019-05-14T09:30:00+09:00"),
        ("2019년 5월 14일 오후 3:05", "2019-05-14T15:05:00+09:00"),
        ("2019-05-14T09:30:14+09:00", "2019-05-14T09:30:14+09:00"),
        ("2019-05-14T00:30:14Z", "2019-05-14T09:30:14+09:00"),
        ("2019-05-14 09:30:14", "2019-05-14T09:30:14+09:00"),
        ("09:30:12", "2026-05-01T09:30:12+09:00"),
    ],
)
def test_korean_dates_to_utc_from_kst(raw, expected):
    got = parse_korean_datetime(raw, now=NOW)
    assert got == utc(expected)
    assert got.tzinfo is UTC or got.utcoffset().total_seconds() == 0


def test_unparseable_date_is_none():
    assert parse_korean_datetime("언젠가", now=NOW) is None
    assert parse_korean_datetime("", now=NOW) is None


@pytest.mark.parametrize(
    ("raw", "n"),
    [
        ("조회 1,234", 1234),
        ("1.2만", 12000),
        ("조회수 3.5만", 35000),
        ("댓글 5", 5),
        ("2천", 2000),
        (17, 17),
        (None, None),
        ("없음", None),
    ],
)
def test_counts(raw, n):
    assert parse_count(raw) == n


def test_canonical_url_drops_tracking_and_trailing_slash():
    a = canonical_url(
        "HTTP://Sandbox.local:80/questions/12/?affect_id=0&affect_type=QuestionIndex&query=&utm_source=x#c"
    )
    assert a == "http://sandbox.local:80/questions/12"
    assert canonical_url("http://h/questions?page=2&query=도배") == canonical_url(
        "http://h/questions?query=도배&page=2"
    )


def test_content_hash_is_stable_and_sensitive():
    a = {"title": "벽지 들뜸", "keywords": ["도배"]}
    assert content_hash(a) == content_hash(dict(reversed(list(a.items()))))
    assert content_hash(a) != content_hash({**a, "title": "벽지 들뜸!"})
