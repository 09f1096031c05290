"""Scrapy settings of the dobae crawler. Live defaults are polite; tests and benchmarks override.

The database URL, User-Agent and author pseudonymisation come from `foundation.settings`
(`DOBAE_DATABASE_URL`, `DOBAE_CRAWL__USER_AGENT`, `DOBAE_CRAWL__PSEUDONYMIZE_AUTHORS`) through one
Scrapy add-on, `crawler.addon.DobaeSettings`, at the add-on priority (`-s` overrides it).
"""

from scrapy.settings.default_settings import EXTENSIONS_BASE as _SCRAPY_EXTENSIONS_BASE

BOT_NAME = "dobae"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"  # `scrapy crawl` exits 1 when the crawl failed (crawler/commands)

ADDONS = {"crawler.addon.DobaeSettings": 0}  # DOBAE_DATABASE_URL, DOBAE_*AUTHOR*, USER_AGENT
ROBOTSTXT_OBEY = True

# Politeness: one request at a time per site, AutoThrottle adapts the delay to the server's latency.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_FAIL_ON_DATALOSS = True  # a body cut short of its Content-Length is an error, then retried

# Retries: our RetryAfterMiddleware replaces Scrapy's (same settings) and waits Retry-After/backoff.
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_AFTER_MAX = 120.0
RETRY_BACKOFF_BASE = 0.5
RETRY_BACKOFF_MAX = 30.0
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.RetryAfterMiddleware": 550,
    "crawler.middlewares.LoginRedirectMiddleware": 650,  # sees a 3xx before RedirectMiddleware (600)
}

# A crawl killed hard (SIGKILL) leaves JOBDIR's request queue torn: the next start drops it.
# RunMonitor: a crawl that fetched no page, or had errors and no item, is failed (crawler/monitor.py).
# Scrapy 2.19's remote control is off (REMOTE_CONTROL_ENABLED below) and not even loaded: its module
# imports aiohttp, ~0.3 s at the start of every crawl for an extension that then switches itself off.
# It leaves Scrapy's base list (every other base extension kept, a newer Scrapy's too): a key of
# EXTENSIONS is imported even when set to None (Scrapy loads each key to compare it).
EXTENSIONS_BASE = {k: v for k, v in _SCRAPY_EXTENSIONS_BASE.items() if not k.endswith(".RemoteControl")}
EXTENSIONS = {
    "crawler.jobdir.JobdirGuard": 0,
    "crawler.distributed.RedisWorkers": 10,
    "crawler.monitor.RunMonitor": 20,
}

# Distributed crawling (crawler/distributed/): on only with `-s SCHEDULER=crawler.distributed.Scheduler
# -s REDIS_URL=redis://host:6379/0`; the queue persists so processes can come and go.
SPIDER_MIDDLEWARES = {"crawler.distributed.InflightDone": 50}
SCHEDULER_PERSIST = True

ITEM_PIPELINES = {
    "crawler.pipelines.ValidationPipeline": 100,
    "crawler.pipelines.NormalizePipeline": 200,
    "crawler.pipelines.DatabasePipeline": 300,
}
DOBAE_DB_BATCH_SIZE = 200
DOBAE_DB_FLUSH_S = 2.0  # buffered items are written at least this often (a SIGKILL loses ≤ this)
DOBAE_DB_RETRY_TIMES = 5  # a batch the database refused is tried again after 1, 2, 4, 8, 16 s …
DOBAE_DB_RETRY_BACKOFF_S = 1.0  # … (× this): an outage up to ~30 s costs nothing, a longer one stops
DOBAE_REDIS_OUTAGE_S = 30.0  # distributed crawls: a Redis command waits this long for Redis to return
DOBAE_REDIS_START_GRACE_S = 10.0  # … and a new worker this long for the shared queue to fill
DOBAE_REDIS_ALIVE_S = 15  # a worker silent this long is dead: its unfinished requests are taken over
DOBAE_RECORD_PAGES = True

FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
LOG_LEVEL = "INFO"
TELNETCONSOLE_ENABLED = False  # no listening port, no credentials in the log; `-s TELNETCONSOLE_ENABLED=1`
# Scrapy ≥ 2.19's remote control: an HTTP port that runs code sent with its token, and job files a
# SIGKILLed crawl leaves behind; off like the telnet console, and left out of EXTENSIONS_BASE above
# (to use it, keep it there and pass `-s REMOTE_CONTROL_ENABLED=1`).
REMOTE_CONTROL_ENABLED = False

# The browser spider (ohouse_spa) switches these on in its custom_settings.
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = {
    "executable_path": "/usr/bin/chromium",
    "headless": True,
    "args": [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ],
}
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 20_000
