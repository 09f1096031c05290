"""`scrapy crawl NAME`, exiting 1 when the crawl failed or was stopped short (Scrapy's own exits 0
whenever the spider started): the reason is `stats["dobae/failure"]` (crawler/monitor.py), also
stored in the run's `crawl_runs` row and logged as one ERROR line."""

from __future__ import annotations

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from crawler.monitor import FAILURE


class Command(ScrapyCrawl):
    def run(self, args, opts) -> None:
        if len(args) != 1:
            raise UsageError("give one spider: scrapy crawl NAME")
        assert self.crawler_process
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed or crawler.stats.get_value(FAILURE):
            self.exitcode = 1
