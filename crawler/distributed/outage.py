"""A distributed crawl when Redis goes away: every Redis command is retried on a new connection
with a backoff for up to `DOBAE_REDIS_OUTAGE_S` (30 s; `redis_params`), so a restart of a Redis that
keeps its data costs nothing. Past that, or when Redis came back without this crawl's keys, the
process keeps its in-flight record, says why and stops `interrupted` (`OutageGuard.lost`): the same
command run again takes its unfinished requests over."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

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


class OutageGuard:
    """Part of `RedisWorkers` (crawler/distributed/workers.py), whose `crawler`, `spider` and
    `broken` it uses: Redis calls that stop the process, instead of raising, once Redis failed."""

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
