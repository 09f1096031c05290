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
  `{spider}:inflight:{worker}` (when the scheduler hands it out) until its callback has run and every request it yielded is
  queued — those that yield items until the
  process closes cleanly (its items may wait in the database pipeline's batch). A process whose
  `{spider}:alive:{worker}` key expired (SIGKILL, lost machine) is dead: the first live process
  that notices claims its record (an atomic RENAME) and schedules again every request whose
  question is not in the database — any process, including one that joins later.
- the last process to close cleanly removes the crawl's keys (queue, dupefilter, seed), so the
  next crawl starts fresh; if every process died, a new one resumes from what Redis holds.
- **Redis goes away**: every Redis command is retried on a new connection with a backoff for up to
  `DOBAE_REDIS_OUTAGE_S` (30 s; the process waits, its in-flight pages wait with it), so a restart
  of a Redis that keeps its data (RDB/AOF) costs nothing (a command whose reply the restart lost
  is sent again: the scheduler's pop and push give the same outcome run twice). An outage longer
  than that, or a Redis that came back without this crawl's keys, stops the process `interrupted`
  (exit 1) keeping its in-flight record: the same command run again (any number of processes) takes its unfinished
  requests over and ends with exactly the site's rows. The heartbeat survives every Redis error.

The parts, one module each:

- `workers.py`: `RedisWorkers`, the extension: this process's keys (alive, busy), the one seed,
  idling, the last one out, and the keyword lists' shared state;
- `recovery.py`: the in-flight records and taking over a dead worker's requests;
- `outage.py`: waiting out a Redis restart (`redis_params`) and stopping when it lasts too long;
- `scheduler.py`: `Scheduler`, which pops and records a request in one step, and marks one seen
  and queues it in one step;
- `inflight.py`: `InflightDone`, the spider middleware that says when a request's callback ran.

Every name stays importable from `crawler.distributed` (settings name `crawler.distributed.Scheduler`,
`crawler.distributed.RedisWorkers` and `crawler.distributed.InflightDone`).
"""

from crawler.distributed.inflight import InflightDone
from crawler.distributed.outage import REDIS_STOPPED, OutageGuard, redis_params
from crawler.distributed.recovery import InflightRecords, question_id
from crawler.distributed.scheduler import POP_AND_RECORD, Scheduler
from crawler.distributed.workers import (
    ALIVE_S,
    BUSY_S,
    HEARTBEAT_S,
    ITEM_CALLBACKS,
    START_GRACE_S,
    RedisWorkers,
    is_distributed,
)

__all__ = [
    "ALIVE_S",
    "BUSY_S",
    "HEARTBEAT_S",
    "ITEM_CALLBACKS",
    "POP_AND_RECORD",
    "REDIS_STOPPED",
    "START_GRACE_S",
    "InflightDone",
    "InflightRecords",
    "OutageGuard",
    "RedisWorkers",
    "Scheduler",
    "is_distributed",
    "question_id",
    "redis_params",
]
