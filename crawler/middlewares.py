"""Downloader middlewares: polite retries that honour Retry-After, and no redirects into login pages.

Scrapy retries 429/503 but ignores ``Retry-After``; :class:`RetryAfterMiddleware` replaces its
RetryMiddleware, waits what the server asked (capped by ``RETRY_AFTER_MAX``) or an exponential
backoff (``RETRY_BACKOFF_BASE`` × 2^attempt, capped by ``RETRY_BACKOFF_MAX``), then retries.
:class:`LoginRedirectMiddleware` drops a redirect whose target is a sign-in page (it would only
yield a login form, and following it can look like an attempt to log in).
Fetched pages are recorded by the database pipeline (it listens to ``response_received``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.response import response_status_message

from crawler.monitor import LOST, exception_label

log = logging.getLogger(__name__)

LOGIN_PATHS = re.compile(r"/(users/sign_in|sign_in|signin|login|log_in|accounts/login|member/login)\b", re.I)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds ("3") or an HTTP date; None when absent/invalid."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


GONE_STATUSES = (502, 503, 504, 522, 524)  # the site (or its gateway) is down, not the page broken


def given_up(crawler, request, why: str) -> None:
    """A request retried to the end without an answer from the site (refused, timed out, 502/503/504):
    what it would have stored is missing, so the crawl is incomplete (crawler/monitor.py)."""
    if request.url.endswith("/robots.txt"):
        return  # robots.txt has its own fallback (everything allowed) and stores nothing
    crawler.stats.inc_value(LOST)
    crawler.stats.inc_value(f"{LOST}/{why}")


class RetryAfterMiddleware(RetryMiddleware):
    """RetryMiddleware that waits before retrying: `Retry-After` on 429/503, else exponential backoff.
    A request given up without an answer from the site is counted (`given_up`)."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.after_max = settings.getfloat("RETRY_AFTER_MAX", 120.0)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE", 0.5)
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX", 30.0)
        self.sleep = asyncio.sleep  # the one place this middleware waits (tests give it a fake clock)

    def delay_for(self, request, response) -> float:
        attempt = request.meta.get("retry_times", 0)
        if response.status in (429, 503):
            after = retry_after_seconds(response.headers.get(b"Retry-After"))
            if after is not None:
                return min(after, self.after_max)
        return min(self.backoff_base * (2**attempt), self.backoff_max)

    async def process_response(self, request, response, spider=None):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            if response.status in GONE_STATUSES:
                given_up(self.crawler, request, f"HTTP {response.status}")
            return response
        delay = self.delay_for(request, response)
        stats = self.crawler.stats
        stats.inc_value(f"retry_after/{response.status}")
        stats.max_value("retry_after/max_delay_s", delay)
        if delay > 0:
            log.info("waiting %.1fs before retrying %s (%s)", delay, request.url, response.status)
            await self.sleep(delay)
        return retry

    async def process_exception(self, request, exception, spider=None):
        """Timeouts, refused connections, bodies cut short: retried after an exponential backoff."""
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            given_up(self.crawler, request, exception_label(exception))
            return None
        delay = min(self.backoff_base * (2 ** request.meta.get("retry_times", 0)), self.backoff_max)
        self.crawler.stats.inc_value("retry_after/exception")
        if delay > 0:
            await self.sleep(delay)
        return retry


class LoginRedirectMiddleware:
    """Never follow a redirect into a login page: the request is dropped and counted."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response, spider=None):
        if response.status in (301, 302, 303, 307, 308):
            location = response.headers.get(b"Location")
            if location:
                target = urljoin(request.url, location.decode("latin-1"))
                if LOGIN_PATHS.search(urlsplit(target).path):
                    self.crawler.stats.inc_value("login_redirect/blocked")
                    log.warning("not following %s into a login page (%s)", request.url, target)
                    raise IgnoreRequest(f"redirect to login page {target} from {request.url}")
        return response
