"""`Scheduler`: scrapy-redis' scheduler that pops a request and records it as this worker's in one
step (a Lua script), queues a request and marks it seen in one step (another), and stops the worker
instead of dropping requests when Redis fails.

Both scripts are safe to run twice: redis-py sends a command again when its connection drops
before the reply came (a Redis restart), so a command Redis ran whose reply was lost runs again.
A second pop with the same token returns the request the first one took (not the next one, which
would leave the first recorded as taken and never fetched); a second push finds the request seen
and queued (never seen without being queued: the dupefilter would drop it for good)."""

from __future__ import annotations

import hashlib
import uuid

from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as _RedisScheduler

from crawler.distributed.recovery import PARENT
from crawler.distributed.workers import RedisWorkers

# KEYS: queue, this worker's in-flight record, this worker's last pop; ARGV: this pop's token
POP_AND_RECORD = """
if redis.call('HGET', KEYS[3], 'token') == ARGV[1] then
  return redis.call('HGET', KEYS[2], redis.call('HGET', KEYS[3], 'field'))
end
local r = redis.call('ZRANGE', KEYS[1], 0, 0)
if #r == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
local field = redis.sha1hex(r[1])
redis.call('HSET', KEYS[2], field, r[1])
redis.call('HSET', KEYS[3], 'token', ARGV[1], 'field', field)
return r[1]
"""

# KEYS: dupefilter, queue; ARGV: fingerprint ('' for a dont_filter request), score, request
PUSH_UNSEEN = """
if ARGV[1] ~= '' and redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""


def pop_and_record(server, queue_key: str, inflight_key: str, popped_key: str, token: str) -> bytes | None:
    """The first request of the queue, recorded in `inflight_key` under the sha1 of its data, in one
    step; run again with the same `token` (a retried command), the request the first run took."""
    return server.eval(POP_AND_RECORD, 3, queue_key, inflight_key, popped_key, token) or None


def push_unseen(
    server, dupefilter_key: str, fingerprint: str, queue_key: str, score: float, data: bytes
) -> bool:
    """Queue `data` unless `fingerprint` was seen (an empty one is never seen), marking it seen in
    the same step: True when queued."""
    return bool(server.eval(PUSH_UNSEEN, 2, dupefilter_key, queue_key, fingerprint, score, data))


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
        parent = request.meta.pop(PARENT, None)  # (not queued with it: this worker's own bookkeeping)
        queued = bool(ext.guarded(self._enqueue_request, request, default=False))
        if not ext.broken:  # in the queue, or seen there: the parent's record may go
            ext.child_queued(parent)
        return queued

    def _enqueue_request(self, request) -> bool:
        if not isinstance(self.queue, PriorityQueue) or not isinstance(self.df, RFPDupeFilter):
            return super().enqueue_request(request)
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        data = self.queue._encode_request(request)
        if not push_unseen(self.server, self.df.key, fingerprint, self.queue.key, -request.priority, data):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

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
        data = pop_and_record(
            self.server, self.queue.key, ext.key("inflight", ext.worker), ext.key("popped", ext.worker),
            uuid.uuid4().hex,
        )  # fmt: skip
        if not data:
            return None
        request = self.queue._decode_request(data)
        request.meta["dobae_inflight"] = hashlib.sha1(data).hexdigest()  # the field the script used
        ext.mark_busy()
        self.stats.inc_value("scheduler/dequeued/redis")
        return request
