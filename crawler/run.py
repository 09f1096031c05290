"""Run one spider in this process (what `dobae crawl run` calls), with a live progress line."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from foundation.errors import ConfigError, InputError

SPIDERS = ("ohouse", "ohouse_spa", "ohouse_sitemap", "board")


def crawl_settings(
    *, throttle: bool = True, jobdir: str | None = None, db_url: str | None = None, discard: bool = False,
    overrides: dict[str, Any] | None = None,
):  # fmt: skip
    """The project's Scrapy settings with the run's choices applied."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.utils.project import get_project_settings

    from crawler.addon import apply

    settings = get_project_settings()
    apply(settings)  # what the add-on sets, already here for the checks before the crawler exists
    if not throttle:
        settings.set("AUTOTHROTTLE_ENABLED", False, priority="cmdline")
        settings.set("DOWNLOAD_DELAY", 0, priority="cmdline")
        settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", 16, priority="cmdline")
    if jobdir:
        settings.set("JOBDIR", jobdir, priority="cmdline")
    if db_url:
        settings.set("DOBAE_DATABASE_URL", db_url, priority="cmdline")
    if discard:
        settings.set(
            "ITEM_PIPELINES",
            {
                "crawler.pipelines.ValidationPipeline": 100,
                "crawler.pipelines.NormalizePipeline": 200,
                "crawler.pipelines.DiscardPipeline": 300,
            },
            priority="cmdline",
        )
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def check_database(settings) -> None:
    """The database the crawl will write to can be used (created or migrated when needed), else a
    `ConfigError` of one line naming it — before the first request, not as tracebacks after."""
    from sqlalchemy.exc import DBAPIError

    from crawler.addon import required
    from db.migrate import ensure_schema
    from db.session import database_error

    pipelines = settings.getdict("ITEM_PIPELINES") or {}
    if not any(k.endswith("DatabasePipeline") and v is not None for k, v in pipelines.items()):
        return
    url = required(settings, "DOBAE_DATABASE_URL")
    try:
        ensure_schema(url)
    except DBAPIError as exc:
        raise database_error(url, exc) from None


def check_redis(settings) -> None:
    """A distributed crawl's Redis answers, else a `ConfigError` of one line naming it."""
    from crawler.distributed.workers import is_distributed

    if not is_distributed(settings):
        return
    from redis.exceptions import RedisError
    from scrapy_redis.connection import get_redis_from_settings

    from foundation.settings import mask_url

    where = (
        settings.get("REDIS_URL")
        or f"{settings.get('REDIS_HOST', 'localhost')}:{settings.get('REDIS_PORT', 6379)}"
    )
    try:
        get_redis_from_settings(settings).ping()
    except RedisError as exc:
        raise ConfigError(
            f"Redis {mask_url(str(where))}: {str(exc).splitlines()[0].rstrip('.') if str(exc) else type(exc).__name__}; "
            "start Redis there or fix REDIS_URL (`-s REDIS_URL=redis://HOST:6379/0`)"
        ) from None


def run_crawl(
    spider: str,
    spider_args: dict[str, Any],
    settings=None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run `spider` to the end; returns the final Scrapy stats (plus `elapsed_s`)."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.spiderloader import SpiderLoader

    settings = settings or crawl_settings()
    loader = SpiderLoader.from_settings(settings)
    if spider not in loader.list():
        raise InputError(
            f"unknown spider {spider!r}: choose one of {', '.join(SPIDERS)} (see `dobae crawl list`)"
        )
    spider_cls = loader.load(spider)
    if hasattr(spider_cls, "check_args"):
        spider_cls.check_args(spider_args)  # bad arguments fail here, before the first request
    check_redis(settings)
    check_database(settings)
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    # a failed crawl is reported once, by the caller (`dobae crawl run`: one line, exit 1), from
    # stats["dobae/failure"]; without this Python's last-resort handler would print it a second time
    # (and the database pipeline's retries, counted in the summary as db/retries)
    for name in ("crawler.monitor", "crawler.pipelines", "crawler.store", "crawler.store_pairs"):
        logging.getLogger(name).addHandler(logging.NullHandler())
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider)
    counts = {"pages": 0, "items": 0, "dropped": 0}

    def tick(key: str) -> Callable[..., None]:
        def handler(*_args, **_kwargs) -> None:
            counts[key] += 1
            if on_progress:
                on_progress(dict(counts))

        return handler

    handlers = [tick("pages"), tick("items"), tick("dropped")]  # keep references: signals are weak
    crawler.signals.connect(handlers[0], signal=signals.response_received)
    crawler.signals.connect(handlers[1], signal=signals.item_scraped)
    crawler.signals.connect(handlers[2], signal=signals.item_dropped)
    started = time.monotonic()
    process.crawl(crawler, **spider_args)
    process.start()
    if crawler.spider is None:
        raise ConfigError(f"spider {spider} did not start (see the log above)")
    stats = dict(crawler.stats.get_stats())
    stats["elapsed_s"] = round(time.monotonic() - started, 2)
    return stats
