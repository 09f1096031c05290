"""Retry-After / backoff and the login-redirect guard, on real Scrapy requests and responses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.middlewares import LoginRedirectMiddleware, RetryAfterMiddleware, retry_after_seconds


class S(scrapy.Spider):
    name = "mw_test"


def crawler(**settings):
    c = get_crawler(S, {"RETRY_BACKOFF_BASE": 0.2, **settings})
    c.spider = c._create_spider()
    return c


def resp(url, status, headers=None):
    return HtmlResponse(url, status=status, headers=headers or {}, body=b"", request=Request(url))


def test_retry_after_parsing():
    now = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    assert retry_after_seconds(b"3") == 3.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7.0
    assert retry_after_seconds(b"soon") is None and retry_after_seconds(None) is None


def test_429_waits_retry_after_then_retries(fake_clock):
    c = crawler()
    mw = RetryAfterMiddleware.from_crawler(c)
    mw.sleep = fake_clock.sleep
    req = Request("http://127.0.0.1:1/questions.json?page=2")
    out = asyncio.run(mw.process_response(req, resp(req.url, 429, {"Retry-After": "1"})))
    assert isinstance(out, Request) and out.url == req.url and out.meta["retry_times"] == 1
    assert fake_clock.sleeps == [1.0]  # as the server asked, not the 0.2 s backoff
    assert c.stats.get_value("retry_after/429") == 1


def test_503_without_header_backs_off_exponentially_and_gives_up(fake_clock):
    c = crawler(RETRY_TIMES=2)
    mw = RetryAfterMiddleware.from_crawler(c)
    mw.sleep = fake_clock.sleep
    req = Request("http://127.0.0.1:1/questions/1")
    assert mw.delay_for(req, resp(req.url, 503)) == pytest.approx(0.2)
    assert mw.delay_for(req.replace(meta={"retry_times": 2}), resp(req.url, 503)) == pytest.approx(0.8)
    r1 = asyncio.run(mw.process_response(req, resp(req.url, 503)))
    r2 = asyncio.run(mw.process_response(r1, resp(req.url, 503)))
    final = asyncio.run(mw.process_response(r2, resp(req.url, 503)))
    assert isinstance(final, HtmlResponse) and final.status == 503  # gave up after RETRY_TIMES
    assert fake_clock.sleeps == pytest.approx([0.2, 0.4])  # doubling, no wait before giving up


def test_retry_after_capped_and_200_passes_through():
    c = crawler(RETRY_AFTER_MAX=0.1)
    mw = RetryAfterMiddleware.from_crawler(c)
    req = Request("http://127.0.0.1:1/x")
    assert mw.delay_for(req, resp(req.url, 429, {"Retry-After": "3600"})) == 0.1
    ok = resp(req.url, 200)
    assert asyncio.run(mw.process_response(req, ok)) is ok


def test_redirect_into_login_is_not_followed():
    c = crawler()
    mw = LoginRedirectMiddleware.from_crawler(c)
    req = Request("http://127.0.0.1:1/questions/77")
    with pytest.raises(IgnoreRequest, match="sign_in"):
        mw.process_response(req, resp(req.url, 302, {"Location": "/users/sign_in?return=/questions/77"}))
    assert c.stats.get_value("login_redirect/blocked") == 1
    moved = resp(req.url + "/", 301, {"Location": "/questions/77"})
    assert mw.process_response(req, moved) is moved


def test_timeouts_are_retried_after_backoff(fake_clock):
    from twisted.internet.error import TimeoutError as TxTimeout

    c = crawler(RETRY_BACKOFF_BASE=0.3)
    mw = RetryAfterMiddleware.from_crawler(c)
    mw.sleep = fake_clock.sleep
    req = Request("http://127.0.0.1:1/slow")
    out = asyncio.run(mw.process_exception(req, TxTimeout()))
    assert isinstance(out, Request) and out.meta["retry_times"] == 1 and fake_clock.sleeps == [0.3]
    assert asyncio.run(mw.process_exception(req, ValueError("not a network error"))) is None
