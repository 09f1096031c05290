"""What every dobae spider shares: pydantic-validated arguments, the reference time for relative
dates, and what is already stored (for incremental crawls and for resuming a killed crawl)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import scrapy
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from foundation.errors import ConfigError


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


class SpiderArgs(BaseModel):
    """Arguments every spider takes (`-a base_url=http://127.0.0.1:8800`)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="site root, e.g. http://127.0.0.1:8800")
    incremental: bool = Field(True, description="skip questions stored with the same comment count / lastmod")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("incremental", mode="before")
    @classmethod
    def _incremental(cls, value: object) -> bool:
        return _bool(value)


def validate_args(model: type[BaseModel], spider: str, kwargs: dict[str, Any]) -> BaseModel:
    """Spider arguments → model; a bad one is a ConfigError naming the argument (before any request)."""
    try:
        return model.model_validate(kwargs)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        raise ConfigError(
            f"spider {spider}: argument {where}: {err['msg']} (got {err.get('input')!r})"
        ) from None


class DobaeSpider(scrapy.Spider):
    """Base class: validated `self.args`, `self.base_url`, `self.source_name`, `self.known`."""

    args_model: ClassVar[type[SpiderArgs]] = SpiderArgs
    default_source: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = validate_args(self.args_model, self.name, kwargs)
        super().__init__(*args)
        self.base_url = self.args.base_url
        self.source_name = getattr(self.args, "source", None) or self.default_source or self.name
        self.run_args = self.args.model_dump(mode="json")
        self.seen: set[str] = set()  # question ids already scheduled in this process
        self._known: dict[str, tuple] | None = None

    @classmethod
    def update_settings(cls, settings) -> None:
        super().update_settings(settings)
        # `-s SCHEDULER=scrapy_redis.scheduler.Scheduler` alone makes a distributed crawl: its shared
        # dupefilter comes with it (crawler/distributed/)
        scheduler = str(settings.get("SCHEDULER") or "")
        if (
            "scrapy_redis" in scheduler or scheduler == "crawler.distributed.Scheduler"
        ) and "scrapy_redis" not in str(settings.get("DUPEFILTER_CLASS") or ""):
            settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority="spider")
        if "scrapy_redis" in scheduler or scheduler == "crawler.distributed.Scheduler":
            from crawler.distributed.outage import redis_params

            # Redis commands wait out a restart (DOBAE_REDIS_OUTAGE_S) instead of failing at once
            settings.set("REDIS_PARAMS", redis_params(settings), priority="spider")

    @classmethod
    def check_args(cls, kwargs: dict[str, Any]) -> None:
        """Validate arguments without starting a crawl (the CLI calls this first)."""
        validate_args(cls.args_model, cls.name, kwargs)

    def url(self, path: str) -> str:
        return self.base_url + path

    def stores_items(self) -> bool:
        pipelines = self.settings.getdict("ITEM_PIPELINES") or {}
        return any(k.endswith("DatabasePipeline") and v is not None for k, v in pipelines.items())

    @property
    def known(self) -> dict[str, tuple]:
        """What the database held for this source when the crawl started (loaded once, lazily;
        empty when not incremental or when items are not stored)."""
        if self._known is None:
            self._known = {}
            if self.args.incremental and self.stores_items():
                from scrapy.exceptions import CloseSpider

                from crawler.addon import required
                from crawler.monitor import FAILURE
                from crawler.pipelines import DB_STOPPED
                from crawler.store import DatabaseUnavailable, load_known_retrying

                url = required(self.settings, "DOBAE_DATABASE_URL")
                try:
                    self._known = load_known_retrying(self.crawler, url, self.source_name)
                except DatabaseUnavailable as exc:  # the list page stays unfinished: resumable
                    self._known = None
                    why = f"{exc}; the crawl was stopped: run the same crawl again to store what is missing"
                    self.crawler.stats.set_value(FAILURE, why)
                    raise CloseSpider(DB_STOPPED) from None
            self.crawler.stats.set_value("incremental/known", len(self._known))
        return self._known

    @staticmethod
    def reference_time(response) -> datetime:
        """The server's `Date` (relative dates are relative to it), else now."""
        header = response.headers.get(b"Date")
        if header:
            try:
                return parsedate_to_datetime(header.decode("latin-1")).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        return datetime.now(UTC)
