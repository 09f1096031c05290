"""Distributed crawling on scrapy-redis: several `scrapy crawl` processes (on one machine or many)
share one request queue and one duplicate filter in Redis and write into one PostgreSQL database.

    scrapy crawl ohouse -a base_url=http://site -s SCHEDULER=crawler.distributed.Scheduler \\
        -s REDIS_URL=redis://127.0.0.1:6379/0      # the same command on every process

scrapy-redis gives the shared scheduler and dupefilter (`crawler.distributed.Scheduler` is its
scheduler recording which worker took which request; `scrapy_redis.scheduler.Scheduler` works too,
recording a request only when it reaches the downloader); this extension (on whenever `SCHEDULER`
is one of them) adds what a crawl needs to end with exactly the site's rows when processes come,
go and die:

- **one seed**: only the first process (`SETNX {spider}:seeded`) yields the start requests; the
  others take requests from the shared queue. Question requests go through the shared dupefilter
  (each question fetched by one process); list pages are read once too.
- **no process quits early**: an idle process stays while the queue holds requests or another
  process is still busy (`{spider}:busy:{worker}`, refreshed every second while it works).
- **no request lost with a killed process**: every request a process takes is recorded in
  `{spider}:inflight:{worker}` (when the scheduler hands it out) until its callback has run — those that yield items until the
  process closes cleanly (its items may wait in the database pipeline's batch). A process whose
  `{spider}:alive:{worker}` key expired (SIGKILL, lost machine) is dead: the first live process
  that notices claims its record (an atomic RENAME) and schedules again every request whose
  question is not in the database — any process, including one that joins later.
- the last process to close cleanly removes the crawl's keys (queue, dupefilter, seed), so the
  next crawl starts fresh; if every process died, a new one resumes from what Redis holds.
- **Redis goes away**: every Redis command is retried on a new connection with a backoff for up to
  `DOBAE_REDIS_OUTAGE_S` (30 s; the process waits, its in-flight pages wait with it), so a restart
  of a Redis that keeps its data (RDB/AOF) costs nothing. An outage longer than that, or a Redis
  that came back without this crawl's keys, stops the process `interrupted` (exit 1) keeping its
  in-flight record: the same command run again (any number of processes) takes its unfinished
  requests over and ends with exactly the site's rows. The heartbeat survives every Redis error.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import time
import uuid
from typing import Any

from redis.exceptions import RedisError, ResponseError
from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.utils.request import request_from_dict
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as _RedisScheduler
from twisted.internet import task

ALIVE_S = 15  # a worker whose alive key is older than this is dead (long: a loaded machine stalls)
BUSY_S = ALIVE_S + 5  # outlives the alive key: a killed busy worker is seen dead before it is seen idle
# (DOBAE_REDIS_ALIVE_S sets ALIVE_S, BUSY_S follows: a test that kills a worker need not wait 15 s)
HEARTBEAT_S = 1.0
START_GRACE_S = 10.0  # a new worker waits this long for the queue to fill before it may close
# (DOBAE_REDIS_START_GRACE_S: a test's lone worker resuming a crawl has nobody to wait for)
ITEM_CALLBACKS = {"parse_question", "parse_comments", "parse_question_json"}
REDIS_STOPPED = "redis_unavailable"  # the finish reason of a process stopped by Redis


def redis_params(settings) -> dict[str, Any]:
    """REDIS_PARAMS for scrapy-redis' clients (scheduler, dupefilter, ours): a dropped connection or
    a refused one is retried with a backoff (0.25 s doubling to 2 s) for about DOBAE_REDIS_OUTAGE_S."""
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry

    outage = settings.getfloat("DOBAE_REDIS_OUTAGE_S", 30.0)
    retries, waited = 0, 0.0
    while waited < outage:
        waited += min(0.25 * 2**retries, 2.0)
        retries += 1
    params = dict(settings.getdict("REDIS_PARAMS"))
    params.setdefault("socket_connect_timeout", 5)
    params.setdefault("socket_timeout", 30)
    params.setdefault(
        "retry",
        Retry(ExponentialBackoff(cap=2.0, base=0.25), retries, (RedisConnectionError, RedisTimeoutError)),
    )
    params.setdefault("retry_on_error", [RedisConnectionError, RedisTimeoutError])
    return params


def is_distributed(settings) -> bool:
    scheduler = str(settings.get("SCHEDULER") or "")
    return "scrapy_redis" in scheduler or scheduler == "crawler.distributed.Scheduler"


class RedisWorkers:
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

    def lost(self, exc: BaseException | str) -> None:
        """Redis failed past its retries (or lost the crawl's keys): keep every record this process
        holds, say why and stop it `interrupted` (the same command again resumes)."""
        from crawler.monitor import FAILURE
        from foundation.settings import mask_url

        if self.broken:
            return
        what = (
            exc
            if isinstance(exc, str)
            else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        where = mask_url(str(self.crawler.settings.get("REDIS_URL") or "Redis"))
        self.broken = (
            f"Redis {where}: {what}; this worker stopped, its unfinished requests are kept in Redis: "
            "run the same crawl again once Redis is back"
        )
        self.crawler.stats.set_value(FAILURE, self.broken)
        self.crawler.stats.inc_value("distributed/redis_lost")
        if self.spider is not None:
            self.spider.logger.error("distributed crawl: %s", self.broken)
        engine = getattr(self.crawler, "engine", None)
        if engine is not None and engine.running and self.spider is not None:
            from scrapy.utils.defer import deferred_from_coro

            deferred_from_coro(engine.close_spider_async(reason=REDIS_STOPPED))

    def guarded(self, fn, *args, default=None, **kwargs):
        """`fn(*args)`, or `default` once Redis failed past its retries (the process then stops)."""
        if self.broken:
            return default
        try:
            return fn(*args, **kwargs)
        except RedisError as exc:
            self.lost(exc)
            return default

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
        kinds = ("inflight", "alive", "busy") if clean else ("alive", "busy")
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
                self.redis.delete(self.key("seeded"), self.key("list"), dupes)
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

    # ------------------------------------------------------------------ in-flight requests

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

    def done(self, request: Request, yielded_items: bool) -> None:
        """The callback of `request` has run: its follow-up requests are in the shared queue. One
        that yielded items stays recorded until this worker closes (they may wait in a batch)."""
        key = request.meta.get("dobae_inflight")
        if key and not yielded_items:  # (not once Redis failed: its follow-ups may not be queued)
            self.guarded(self.redis.hdel, self.key("inflight", self.worker), key)

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

    def recover(self) -> int:
        """Schedule again what dead workers had taken and not finished; the number scheduled."""
        dead = self.workers("inflight") - self.workers("alive") - {self.worker}
        scheduled = 0
        for worker in dead:
            claimed = self.key("claimed", f"{worker}:{self.worker}")
            try:
                self.redis.rename(self.key("inflight", worker), claimed)
            except ResponseError as exc:  # "no such key": another worker claimed it first
                if "no such key" not in str(exc).lower():
                    raise
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
            self.redis.delete(claimed)
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
        from crawler.pipelines import DatabaseUnavailable, load_known_retrying
        from foundation.settings import get_settings

        url = self.crawler.settings.get("DOBAE_DATABASE_URL") or get_settings().db_url
        try:
            known = load_known_retrying(
                self.crawler, url, getattr(self.spider, "source_name", self.spider.name)
            )
        except DatabaseUnavailable as exc:  # schedule them all again: a stored one is only fetched twice
            self.spider.logger.warning("distributed crawl: %s; every taken request is scheduled again", exc)
            return set()
        return {q for q in ids if q in known and not (len(known[q]) > 3 and known[q][3])}


def _s(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def question_id(request: Request) -> str | None:
    kw: dict[str, Any] = request.cb_kwargs or {}
    if "qid" in kw:
        return str(kw["qid"])
    item = kw.get("item")
    return str(item["external_id"]) if isinstance(item, dict) and "external_id" in item else None


POP_AND_RECORD = """
local r = redis.call('ZRANGE', KEYS[1], 0, 0)
if #r == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('HSET', KEYS[2], redis.sha1hex(r[1]), r[1])
return r[1]
"""


class Scheduler(_RedisScheduler):
    """scrapy-redis' scheduler that tells `RedisWorkers` which request it hands to this worker (a
    request taken and not finished when the worker dies is scheduled again by another one), and
    stops the worker instead of dropping requests when Redis fails past its retries.
    Use it as `-s SCHEDULER=crawler.distributed.Scheduler`."""

    def _ext(self) -> RedisWorkers | None:
        return getattr(self.spider.crawler, "distributed", None)

    def enqueue_request(self, request) -> bool:
        ext = self._ext()
        if ext is None:
            return super().enqueue_request(request)
        if ext.broken:  # stopping: the request's parent stays in this worker's in-flight record
            return False
        return bool(ext.guarded(super().enqueue_request, request, default=False))

    def has_pending_requests(self) -> bool:
        ext = self._ext()
        if ext is None:
            return super().has_pending_requests()
        return bool(ext.guarded(super().has_pending_requests, default=False))

    def next_request(self):
        ext = self._ext()
        if ext is not None and ext.broken:
            return None
        if ext is None:
            return super().next_request()
        return ext.guarded(self._next_request)

    def _next_request(self):
        ext = self._ext()
        if ext is None or not isinstance(self.queue, PriorityQueue):
            request = super().next_request()
            if request is not None and ext is not None:
                ext.taken(request)
            return request
        # pop and record in one step (a Lua script runs atomically): no moment where a request is
        # neither in the queue nor recorded as this worker's
        data = self.server.eval(POP_AND_RECORD, 2, self.queue.key, ext.key("inflight", ext.worker))
        if not data:
            return None
        request = self.queue._decode_request(data)
        request.meta["dobae_inflight"] = hashlib.sha1(data).hexdigest()  # the field the script used
        ext.mark_busy()
        self.stats.inc_value("scheduler/dequeued/redis")
        return request


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

    @staticmethod
    def _follow(response, out):
        """A recovered question's own follow-ups (its comment pages, its HTML when its JSON was cut
        short) skip the shared dupefilter: the dead worker had already put their fingerprints there,
        and dropping them as duplicates would lose the question."""
        req = response.request
        if (
            isinstance(out, Request)
            and req.meta.get("dobae_recovered")
            and question_id(out) is not None
            and question_id(out) == question_id(req)
        ):
            out = out.replace(dont_filter=True)
            out.meta["dobae_recovered"] = True
        return out

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
