"""Resuming after a hard kill: Scrapy's disk request queue (`JOBDIR/requests.queue`) is only
consistent after a clean stop. A crawl killed with SIGKILL leaves queue files with torn headers;
the next crawl with the same JOBDIR then fails to push every request of such a priority (e.g. all
retries: "struct.error: unpack requires a buffer of 4 bytes") and silently loses them.

`JobdirGuard` (an extension, created before the scheduler opens the queue) marks the JOBDIR while a
crawl runs; if the mark is still there at the next start, the last crawl died: its queue is
dropped, and the crawl starts again from the lists, where questions already stored with the same
comment count are skipped (so nothing is lost and nothing is fetched twice without need).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from scrapy import signals
from scrapy.exceptions import NotConfigured

log = logging.getLogger(__name__)

MARK = "dobae-crawl.running"


class JobdirGuard:
    def __init__(self, crawler, jobdir: Path) -> None:
        self.crawler = crawler
        self.mark = jobdir / MARK
        queue = jobdir / "requests.queue"
        if self.mark.exists():
            if queue.exists():
                shutil.rmtree(queue)
            crawler.stats.set_value("jobdir/unclean_restart", 1)
            log.warning(
                "the last crawl with JOBDIR %s did not stop cleanly (killed?): its request queue is "
                "unreliable and was dropped; the lists are read again and stored questions skipped",
                jobdir,
            )
        jobdir.mkdir(parents=True, exist_ok=True)
        self.mark.write_text(str(os.getpid()), encoding="utf-8")
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        jobdir = crawler.settings.get("JOBDIR")
        if not jobdir:
            raise NotConfigured  # no JOBDIR: nothing to guard (no message: Scrapy then logs nothing)
        return cls(crawler, Path(jobdir))

    def spider_closed(self, spider, reason: str) -> None:
        """A clean stop (finished, or Ctrl-C's graceful shutdown): the queue is consistent."""
        self.mark.unlink(missing_ok=True)
