"""No request lost with a killed process: every request a worker takes is recorded in
`{spider}:inflight:{worker}` until its callback has run and its follow-ups are queued (one that
yielded items until the worker
closes cleanly). A worker whose alive key expired is dead: the first live one that notices claims
its record (an atomic RENAME) and schedules again every request whose question is not in the
database."""

from __future__ import annotations

import pickle
from typing import Any

from redis.exceptions import ResponseError
from scrapy import Request
from scrapy.utils.request import request_from_dict

PARENT = "dobae_parent"  # meta: the in-flight key of the request whose callback yielded this one


class InflightRecords:
    """Part of `RedisWorkers` (crawler/distributed/workers.py), whose `crawler`, `spider`, `redis`,
    `worker`, `key`, `workers`, `guarded` and `mark_busy` it uses."""

    def fingerprint(self, request: Request) -> str:
        return self.crawler.request_fingerprinter.fingerprint(request).hex()

    def taken(self, request: Request) -> None:
        """A plain scrapy-redis scheduler handed `request` to this worker (seen when it reaches the
        downloader): recorded until it is done. `Scheduler` records atomically with the pop instead."""
        self.mark_busy()
        if getattr(request.callback, "__self__", None) is not self.spider or "dobae_inflight" in request.meta:
            return  # robots.txt and other internal requests: nothing to take over
        key = self.fingerprint(request)
        request.meta["dobae_inflight"] = key
        self.guarded(
            self.redis.hset,
            self.key("inflight", self.worker), key, pickle.dumps(request.to_dict(spider=self.spider)),
        )  # fmt: skip

    def reached_downloader(self, request, spider) -> None:
        self.taken(request)

    def yielded(self, parent: Request, child: Request) -> Request:
        """`parent`'s callback yielded `child`: `parent` stays recorded until `child` is in Redis
        (`queued`). Scrapy takes a callback's output and processes it apart (up to CONCURRENT_ITEMS
        at once): the callback can be over while its follow-ups are not queued yet (found in a CI
        run: a list page's record was gone before its last questions were queued, Redis then went
        away, and those questions were lost)."""
        key = parent.meta.get("dobae_inflight")
        if key:
            child.meta[PARENT] = key
            self.children[key] = self.children.get(key, 0) + 1
        return child

    def scheduled(self, request: Request, spider=None) -> None:
        """(request_scheduled, with the plain scrapy-redis scheduler, which queues it right after)
        `request` is about to be queued: one follow-up fewer for the request that yielded it."""
        self.child_queued(request.meta.pop(PARENT, None))

    def child_queued(self, key: str | None) -> None:
        """A follow-up of the request recorded under `key` is in the shared queue (or was found seen
        there); the last one releases its record if its callback is over (`done`)."""
        if key is None or key not in self.children:
            return
        left = self.children[key] - 1
        if left:
            self.children[key] = left
            return
        del self.children[key]
        if key in self.finished:
            self._release(key, self.finished.pop(key))

    def done(self, request: Request, yielded_items: bool) -> None:
        """The callback of `request` has run. Its record goes once its follow-up requests are all
        in the shared queue; one that yielded items stays recorded until this worker closes (they
        may wait in a batch)."""
        key = request.meta.get("dobae_inflight")
        if not key:
            return
        if self.children.get(key):
            self.finished[key] = yielded_items  # released by the last follow-up queued
            return
        self._release(key, yielded_items)

    def _release(self, key: str, yielded_items: bool) -> None:
        if not yielded_items:  # (not once Redis failed: `guarded` does nothing then)
            self.guarded(self.redis.hdel, self.key("inflight", self.worker), key)

    def recover(self) -> int:
        """Schedule again what dead workers had taken and not finished; the number scheduled."""
        dead = self.workers("inflight") - self.workers("alive") - {self.worker}
        scheduled = 0
        for worker in dead:
            claimed = self.key("claimed", f"{worker}:{self.worker}")
            try:
                self.redis.rename(self.key("inflight", worker), claimed)
            except ResponseError as exc:  # "no such key": another worker claimed it first, or
                if "no such key" not in str(exc).lower():  # this RENAME ran and its reply was lost
                    raise  # (Redis restarted): redis-py sent it again
                if not self.redis.exists(claimed):
                    continue
            requests = [request_from_dict(pickle.loads(v), spider=self.spider)  # noqa: S301 - our own records
                        for v in self.redis.hvals(claimed)]  # fmt: skip
            stored = self.stored_ids(requests)
            for request in requests:
                qid = question_id(request)
                if qid is not None and qid in stored:
                    continue
                # its callback did not finish: run it as if for the first time (a list page schedules
                # its follow-up pages again, see OhouseSpider.parse_question_list_json)
                request = request.replace(dont_filter=True)
                request.meta["dobae_recovered"] = True
                self.crawler.engine.crawl(request)
                scheduled += 1
            self.redis.delete(claimed, self.key("popped", worker))
            self.crawler.stats.inc_value("distributed/dead_workers")
            self.crawler.stats.inc_value("distributed/recovered_requests", scheduled)
            self.spider.logger.warning(
                "distributed crawl: worker %s is gone; %d of its %d unfinished request(s) scheduled again",
                worker, scheduled, len(requests),
            )  # fmt: skip
        return scheduled

    def stored_ids(self, requests: list[Request]) -> set[str]:
        ids = {q for q in (question_id(r) for r in requests) if q is not None}
        if not ids or not getattr(self.spider, "stores_items", lambda: False)():
            return set()
        from crawler.addon import required
        from crawler.store import DatabaseUnavailable, load_known_retrying

        url = required(self.crawler.settings, "DOBAE_DATABASE_URL")
        try:
            known = load_known_retrying(
                self.crawler, url, getattr(self.spider, "source_name", self.spider.name)
            )
        except DatabaseUnavailable as exc:  # schedule them all again: a stored one is only fetched twice
            self.spider.logger.warning("distributed crawl: %s; every taken request is scheduled again", exc)
            return set()
        return {q for q in ids if q in known and not (len(known[q]) > 3 and known[q][3])}


def question_id(request: Request) -> str | None:
    kw: dict[str, Any] = request.cb_kwargs or {}
    if "qid" in kw:
        return str(kw["qid"])
    item = kw.get("item")
    return str(item["external_id"]) if isinstance(item, dict) and "external_id" in item else None
