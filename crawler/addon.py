"""The crawler's one door to the project's settings: a Scrapy add-on (`ADDONS` in crawler/settings.py).

`foundation.settings` (defaults, `.env`, `DOBAE_*` environment variables) is read here once per crawl
and written into Scrapy's settings at the add-on priority, so the project settings module and `-s` on
the command line still override it; every crawler component then reads `crawler.settings` only, in
its `from_crawler`, never the foundation around it:

- `DOBAE_DATABASE_URL`: where the pipelines store, and what an incremental crawl compares with;
- `DOBAE_PSEUDONYMIZE_AUTHORS`, `DOBAE_AUTHOR_SALT`: author identities stored as salted hashes;
- `USER_AGENT`: `DOBAE_CRAWL__USER_AGENT`.
"""

from __future__ import annotations

from scrapy.settings import BaseSettings

from foundation.errors import ConfigError

PRIORITY = "addon"


class DobaeSettings:
    """Fill the crawler's `DOBAE_*` settings and `USER_AGENT` from `foundation.settings`."""

    def update_settings(self, settings: BaseSettings) -> None:
        apply(settings)


def apply(settings: BaseSettings) -> None:
    """What the add-on does, for code that reads settings before a crawler exists (`crawler.run`)."""
    from foundation.settings import get_settings

    project = get_settings()
    settings.set("DOBAE_DATABASE_URL", project.db_url, priority=PRIORITY)
    settings.set("DOBAE_PSEUDONYMIZE_AUTHORS", project.crawl.pseudonymize_authors, priority=PRIORITY)
    settings.set("DOBAE_AUTHOR_SALT", project.crawl.author_salt.get_secret_value(), priority=PRIORITY)
    settings.set("USER_AGENT", project.crawl.user_agent, priority=PRIORITY)


def required(settings: BaseSettings, name: str) -> str:
    """A setting the add-on provides; a crawler built without it gets one line saying so."""
    value = settings.get(name)
    if not value:
        raise ConfigError(
            f"the Scrapy setting {name} is not set: run crawls with the project's settings "
            "(crawler/settings.py enables the add-on crawler.addon.DobaeSettings that sets it), "
            f"or pass it (-s {name}=…)"
        )
    return str(value)
