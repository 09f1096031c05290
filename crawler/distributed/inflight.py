"""`InflightDone`: the spider middleware that tells `RedisWorkers` when a request's callback ran."""

from __future__ import annotations

from scrapy import Request
from scrapy.exceptions import NotConfigured

from crawler.distributed.recovery import question_id
from crawler.distributed.workers import RedisWorkers, is_distributed


class InflightDone:
    """Spider middleware: tells `RedisWorkers` when a request's callback output was consumed."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        if not is_distributed(crawler.settings):
            raise NotConfigured  # silently off: a warning on every ordinary crawl would be noise
        return cls(crawler)

    def _ext(self) -> RedisWorkers | None:
        return getattr(self.crawler, "distributed", None)

    def _follow(self, response, out):
        """A follow-up request is counted against the request whose callback yielded it (whose
        record stays until the follow-up is queued: `RedisWorkers.yielded`). A recovered question's
        own follow-ups (its comment pages, its HTML when its JSON was cut short) skip the shared
        dupefilter: the dead worker had already put their fingerprints there, and dropping them as
        duplicates would lose the question."""
        if not isinstance(out, Request):
            return out
        req = response.request
        if (
            req.meta.get("dobae_recovered")
            and question_id(out) is not None
            and question_id(out) == question_id(req)
        ):
            out = out.replace(dont_filter=True)
            out.meta["dobae_recovered"] = True
        ext = self._ext()
        return out if ext is None else ext.yielded(req, out)

    def process_spider_output(self, response, result, spider=None):
        items = False
        for out in result:
            items = items or not isinstance(out, Request)
            yield self._follow(response, out)
        ext = self._ext()
        if ext is not None:
            ext.done(response.request, items)

    async def process_spider_output_async(self, response, result, spider=None):
        items = False
        async for out in result:
            items = items or not isinstance(out, Request)
            yield self._follow(response, out)
        ext = self._ext()
        if ext is not None:
            ext.done(response.request, items)
