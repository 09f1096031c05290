"""`Scheduler`: scrapy-redis' scheduler that pops a request and records it as this worker's in one
step (a Lua script), and stops the worker instead of dropping requests when Redis fails."""

from __future__ import annotations

import hashlib

from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as _RedisScheduler

from crawler.distributed.workers import RedisWorkers

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
