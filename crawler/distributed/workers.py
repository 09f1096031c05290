"""`RedisWorkers`, the extension of a distributed crawl (see `crawler.distributed`): one process's
keys in Redis (alive, busy), the one seed, idling while others work, the last one out removing the
crawl's keys, and the keyword lists' shared state. Its in-flight records and recovery of dead
workers are `InflightRecords` (recovery.py), its Redis outages `OutageGuard` (outage.py)."""

from __future__ import annotations

import os
import socket
import time
import uuid

from redis.exceptions import RedisError
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from twisted.internet import task

from crawler.distributed.outage import OutageGuard
from crawler.distributed.recovery import InflightRecords

ALIVE_S = 15  # a worker whose alive key is older than this is dead (long: a loaded machine stalls)
BUSY_S = ALIVE_S + 5  # outlives the alive key: a killed busy worker is seen dead before it is seen idle
# (DOBAE_REDIS_ALIVE_S sets ALIVE_S, BUSY_S follows: a test that kills a worker need not wait 15 s)
HEARTBEAT_S = 1.0
START_GRACE_S = 10.0  # a new worker waits this long for the queue to fill before it may close
# (DOBAE_REDIS_START_GRACE_S: a test's lone worker resuming a crawl has nobody to wait for)
ITEM_CALLBACKS = {"parse_question", "parse_comments", "parse_question_json"}


def is_distributed(settings) -> bool:
    scheduler = str(settings.get("SCHEDULER") or "")
    return "scrapy_redis" in scheduler or scheduler == "crawler.distributed.Scheduler"


class RedisWorkers(OutageGuard, InflightRecords):
    """The extension (see the module's docstring)."""

    def __init__(self, crawler) -> None:
        from scrapy_redis.connection import get_redis_from_settings

        self.crawler = crawler
        self.redis = get_redis_from_settings(crawler.settings)
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.started = time.monotonic()
        self.start_grace_s = crawler.settings.getfloat("DOBAE_REDIS_START_GRACE_S", START_GRACE_S)
        self.alive_s = crawler.settings.getint("DOBAE_REDIS_ALIVE_S", ALIVE_S)
        self.busy_s = self.alive_s + (BUSY_S - ALIVE_S)
        self.last_activity = 0.0
        self.busy_marked = False  # this worker's busy key set since it was last idle
        self.heartbeat: task.LoopingCall | None = None
        self.spider = None
        self.broken: str | None = None  # why Redis cannot be used any more: the process stops
        self.seen_seed = False  # the crawl's seed key was seen (gone later: Redis lost its data)
        self.last_beat = time.monotonic()  # the last heartbeat that reached Redis
        self.children: dict[str, int] = {}  # in-flight key → its follow-ups not queued yet (recovery.py)
        self.finished: dict[str, bool] = {}  # in-flight key → yielded items, for callbacks over whose
        # follow-ups are not all queued yet: released by the last one

    @classmethod
    def from_crawler(cls, crawler):
        if not is_distributed(crawler.settings):
            raise NotConfigured  # silently off: a warning on every ordinary crawl would be noise
        ext = cls(crawler)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.response_received, signal=signals.response_received)
        if crawler.settings.get("SCHEDULER") != "crawler.distributed.Scheduler":
            # plain scrapy-redis scheduler: requests are recorded when they reach the downloader (a
            # request killed between the queue and the downloader is lost: use ours)
            crawler.signals.connect(ext.reached_downloader, signal=signals.request_reached_downloader)
            crawler.signals.connect(ext.scheduled, signal=signals.request_scheduled)
        crawler.distributed = ext
        return ext

    # ------------------------------------------------------------------ keys

    def key(self, kind: str, worker: str | None = None) -> str:
        name = self.spider.name if self.spider is not None else "spider"
        return f"{name}:{kind}" + (f":{worker}" if worker else "")

    def workers(self, kind: str) -> set[str]:
        prefix = self.key(kind) + ":"
        return {_s(k).removeprefix(prefix) for k in self.redis.scan_iter(match=prefix + "*", count=1000)}

    # ------------------------------------------------------------------ lifecycle

    def spider_opened(self, spider) -> None:
        self.spider = spider
        self.started = time.monotonic()  # the grace counts from here (opening may take long under load)
        self.beat()
        self.heartbeat = task.LoopingCall(self.beat)
        self.heartbeat.start(HEARTBEAT_S, now=False)
        spider.logger.info("distributed crawl: worker %s (Redis %s)", self.worker, self.redis)

    def claim_seed(self) -> bool:
        """True for the one process that yields the start requests of this crawl."""
        first = bool(self.guarded(self.redis.set, self.key("seeded"), self.worker, nx=True, default=False))
        if not first and not self.broken:  # a SET retried after its reply was lost finds the key set:
            first = _s(self.guarded(self.redis.get, self.key("seeded"), default=b"") or b"") == self.worker
        self.seen_seed = not self.broken
        self.crawler.stats.set_value("distributed/seeder", first)
        if first:  # busy from now on: the others wait for the requests it is about to queue
            self.last_activity = time.monotonic()
            self.guarded(self.redis.set, self.key("busy", self.worker), "1", ex=self.busy_s)
        return first

    def spider_closed(self, spider, reason) -> None:
        # pipelines closed before this signal: this worker's items are in the database
        from crawler.monitor import FAILURE

        if self.heartbeat is not None and self.heartbeat.running:
            self.heartbeat.stop()
        clean = reason == "finished" and not self.broken and not self.crawler.stats.get_value(FAILURE)
        # a process that did not end cleanly keeps its in-flight record (its items may not be stored):
        # the others, or the next crawl, take it over once its alive key is gone
        kinds = ("inflight", "popped", "alive", "busy") if clean else ("popped", "alive", "busy")
        self.broken = None  # one last try, to let the others see this process gone at once
        try:
            pipe = self.redis.pipeline()
            for kind in kinds:
                pipe.delete(self.key(kind, self.worker))
            pipe.execute()
        except RedisError as exc:
            spider.logger.warning("distributed crawl: Redis unreachable at the end (%s): the others "
                                  "see this worker gone in %d s", exc, self.alive_s)  # fmt: skip
            return
        if clean and not self.workers("alive") and not self.workers("inflight"):
            queue = self.crawler.settings.get("SCHEDULER_QUEUE_KEY", "%(spider)s:requests") % {
                "spider": spider.name
            }
            dupes = self.crawler.settings.get("SCHEDULER_DUPEFILTER_KEY", "%(spider)s:dupefilter") % {
                "spider": spider.name
            }
            if not self.redis.exists(queue):
                popped = [self.key("popped", w) for w in self.workers("popped")]  # of unclean ends
                self.redis.delete(self.key("seeded"), self.key("list"), dupes, *popped)
                spider.logger.info("distributed crawl: last worker out, the crawl's Redis keys removed")

    # ------------------------------------------------------------------ heartbeat and idling

    def beat(self) -> None:
        """Every HEARTBEAT_S: alive (and busy) keys, the seed's presence, dead workers' records. Never
        raises (a LoopingCall that raises stops for good): a Redis error past its retries stops
        the process (`lost`), anything else is logged and the next beat comes."""
        if self.broken:
            return
        try:
            pipe = self.redis.pipeline()
            pipe.set(self.key("alive", self.worker), "1", ex=self.alive_s)
            if time.monotonic() - self.last_activity < 2 * HEARTBEAT_S:
                pipe.set(self.key("busy", self.worker), "1", ex=self.busy_s)
            pipe.exists(self.key("seeded"))
            seeded = pipe.execute()[-1]
            now = time.monotonic()
            if seeded:
                self.seen_seed = True
            elif self.seen_seed and now - self.last_beat < self.alive_s / 2:
                # our alive key never lapsed, so no "last worker out" removed the seed: Redis lost
                # its data (restarted without RDB/AOF), queue and dupefilter with it
                self.lost("the crawl's keys are gone (Redis restarted without its data?)")
                return
            self.last_beat = now
            self.recover()
        except RedisError as exc:
            self.lost(exc)
        except Exception:  # noqa: BLE001 - logged with its traceback; the heartbeat must go on
            self.crawler.stats.inc_value("distributed/heartbeat_errors")
            if self.spider is not None:
                self.spider.logger.exception(
                    "distributed crawl: heartbeat failed (next try in %s s)", HEARTBEAT_S
                )

    def response_received(self, response, request, spider) -> None:
        now = time.monotonic()
        if now - self.last_activity > HEARTBEAT_S / 2:
            self.guarded(self.redis.set, self.key("busy", self.worker), "1", ex=self.busy_s)
        self.last_activity = now

    def spider_idle(self, spider) -> None:
        if self.broken:
            return  # stopping: nothing to wait for
        try:
            self._idle(spider)
        except RedisError as exc:
            self.lost(exc)

    def mark_busy(self) -> None:
        """This worker took a request: its busy key is set at once (not only by the next response or
        beat), so a worker killed right after leaving idle is still seen busy until it is seen dead
        (BUSY_S > ALIVE_S) and the others wait to take its requests over instead of quitting."""
        self.last_activity = time.monotonic()
        if not self.busy_marked:
            self.guarded(self.redis.set, self.key("busy", self.worker), "1", ex=self.busy_s)
            self.busy_marked = True

    def _idle(self, spider) -> None:
        self.redis.delete(self.key("busy", self.worker))
        self.busy_marked = False
        recovered = self.recover()
        others_busy = self.workers("busy") - {self.worker}
        young = time.monotonic() - self.started < self.start_grace_s
        spider.logger.debug(
            "distributed crawl: idle; recovered %d, busy %s, young %s", recovered, others_busy, young
        )
        if recovered or others_busy or young:
            raise DontCloseSpider("other workers are still crawling")

    def list_state(self, query: str) -> tuple[int | None, int | None]:
        """(largest total_count seen, last list page scheduled) of a keyword's JSON list, shared by
        the workers: whoever reads a page showing the list grew schedules the new pages."""
        raw = self.guarded(self.redis.hget, self.key("list"), query)
        if raw is None:
            return None, None
        total, last = _s(raw).split(":")
        return int(total), int(last)

    def set_list_state(self, query: str, total: int, last: int) -> None:
        self.guarded(self.redis.hset, self.key("list"), query, f"{total}:{last}")


def _s(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
