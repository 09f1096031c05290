"""Run one spider in this process (what `dobae crawl run` calls), with a live progress line."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from dobae.errors import ConfigError, InputError

SPIDERS = ("ohouse", "ohouse_spa", "ohouse_sitemap", "board")


def crawl_settings(
    *, throttle: bool = True, jobdir: str | None = None, db_url: str | None = None, discard: bool = False,
    overrides: dict[str, Any] | None = None,
):  # fmt: skip
    """The project's Scrapy settings with the run's choices applied."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
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
    if spider not in SpiderLoader.from_settings(settings).list():
        raise InputError(
            f"unknown spider {spider!r}: choose one of {', '.join(SPIDERS)} (see `dobae crawl list`)"
        )
    process = CrawlerProcess(settings, install_root_handler=False)
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
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    errors = stats.get("spider_exceptions/ValueError") or 0
    if stats.get("finish_reason") == "bad_arguments":
        raise ConfigError(stats.get("dobae/bad_arguments", "bad spider arguments"))
    stats["elapsed_s"] = round(time.monotonic() - started, 2)
    stats.setdefault("spider_errors", errors)
    return stats
