"""Did a crawl work? A crawl that fetched no page (nothing listening, every page 404) or that had
errors and stored nothing is a failed crawl, not a `finished` one with 0 items; so is a crawl that
gave up on pages the site stopped answering (refused, timed out, 502/503/504 after every retry:
`dobae/lost_requests`, counted by crawler/middlewares.py): what they hold is missing, and the same
crawl run again fetches it (stored questions are skipped). A page that answers 404 or 500 is that
page's answer, not a missing one.

`RunMonitor` (an extension, on for every crawl) counts the pages the site really answered
(`dobae/pages_ok`: 2xx/3xx, robots.txt not counted) and, when the spider closes, logs the reason of
a failed crawl as one ERROR line and puts it in the stats (`dobae/failure`), where the database
pipeline (`crawl_runs.status`/`error`) and `dobae crawl run` (one line, exit 1) read it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from scrapy import signals

log = logging.getLogger(__name__)

PAGES_OK = "dobae/pages_ok"
FAILURE = "dobae/failure"
LOST = "dobae/lost_requests"
EXCEPTION_LABELS = {
    "DownloadConnectionRefusedError": "connection refused",
    "ConnectionRefusedError": "connection refused",
    "DNSLookupError": "DNS lookup failed",
    "DownloadTimeoutError": "timeout",
    "TimeoutError": "timeout",
    "TCPTimedOutError": "timeout",
}


def exception_label(exc: BaseException | str) -> str:
    """'connection refused', 'timeout', … for a download exception (or its class name)."""
    short = (exc if isinstance(exc, str) else type(exc).__name__).rsplit(".", 1)[-1]
    return EXCEPTION_LABELS.get(short, short)


def _counts(stats: Mapping[str, Any], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: int(v) for k, v in stats.items() if k.startswith(prefix)}


def what_happened(stats: Mapping[str, Any]) -> str:
    """'4 requests: connection refused ×4' / '3 responses: HTTP 404 ×3' from Scrapy's stats."""
    parts = []
    statuses = {s: n for s, n in _counts(stats, "downloader/response_status_count/").items()}
    if statuses:
        shown = ", ".join(f"HTTP {s} ×{n}" for s, n in sorted(statuses.items()))
        parts.append(f"{sum(statuses.values())} response(s): {shown}")
    errors = _counts(stats, "downloader/exception_type_count/")
    if errors:
        named: dict[str, int] = {}
        for name, n in errors.items():
            label = exception_label(name)
            named[label] = named.get(label, 0) + n
        parts.append(
            f"{sum(named.values())} failed request(s): " + ", ".join(f"{k} ×{v}" for k, v in named.items())
        )
    if not parts:
        parts.append(f"{int(stats.get('downloader/request_count', 0))} request(s) sent")
    return "; ".join(parts)


def failure_reason(stats: Mapping[str, Any], base_url: str | None = None) -> str | None:
    """Why this crawl failed, or None when it worked (an incremental crawl with 0 new items works)."""
    where = f" from {base_url}" if base_url else ""
    if stats.get(FAILURE):
        return str(stats[FAILURE])
    helper = stats.get("distributed/seeder") is False  # a worker of a distributed crawl that did not seed it
    if not stats.get(PAGES_OK) and not (helper and not stats.get(LOST)):
        # (a helper that found the shared queue empty did nothing wrong: the seeder reports the site)
        return f"no page fetched{where} ({what_happened(stats)}): is the site up at that address?"
    lost = int(stats.get(LOST, 0))
    if lost:
        why = ", ".join(f"{k} ×{v}" for k, v in sorted(_counts(stats, LOST + "/").items()))
        return (
            f"{lost} page(s){where} could not be fetched ({why}; {int(stats.get(PAGES_OK, 0))} fetched): "
            "the site stopped answering, so rows are missing; run the same crawl again to fetch them"
        )
    errors = int(stats.get("log_count/ERROR", 0))
    # (an incremental crawl that skipped what it had stored and met only the site's broken pages
    # stored nothing new, rightly)
    if errors and not stats.get("item_scraped_count") and not stats.get("incremental/skipped"):
        return (
            f"{errors} error(s) and no item{where} ({what_happened(stats)}, "
            f"{int(stats[PAGES_OK])} page(s) fetched): see the log"
        )
    return None


class RunMonitor:
    """Counts the pages the site answered; logs and records why a crawl failed (see the module)."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        ext = cls(crawler)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def response_received(self, response, request, spider) -> None:
        if response.status < 400 and not request.url.endswith("/robots.txt"):
            self.crawler.stats.inc_value(PAGES_OK)

    def spider_closed(self, spider, reason) -> None:
        stats = self.crawler.stats
        if reason != "finished":  # shutdown (Ctrl-C), closespider limits, …: not judged here
            return
        failure = failure_reason(stats.get_stats(), getattr(spider, "base_url", None))
        if failure:
            stats.set_value(FAILURE, failure)
            log.error("crawl failed: %s", failure)
