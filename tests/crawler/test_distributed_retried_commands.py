"""A Redis command that ran but whose reply was lost (Redis shut down right after running it) is
sent again by redis-py on a new connection: the distributed crawl's commands must give the same
outcome run twice, or a question is lost (found in a CI run: a pop ran, its reply was lost, the
retry popped the next request and the first stayed recorded as taken, never fetched).

Real parts: a private redis-server and redis-py's own retry (the one `redis_params` configures);
the lost reply is forced by a connection class that drops its connection after reading a reply,
which is what a Redis restart does between running a command and the reply reaching the worker."""

from __future__ import annotations

import pickle

import pytest
import redis
from crawl_helpers import throwaway_redis
from scrapy import Request, Spider
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from scrapy_redis.dupefilter import RFPDupeFilter

from crawler.distributed import RedisWorkers, redis_params
from crawler.distributed.scheduler import pop_and_record, push_unseen


class ReplyLost(redis.Connection):
    """Reads a reply, then fails as a dropped connection would, `lose` times (for the command
    `only` when set)."""

    lose = 0
    only: str | None = None

    def send_command(self, *args, **kwargs):
        self.command = str(args[0]).upper()
        return super().send_command(*args, **kwargs)

    def read_response(self, *args, **kwargs):
        response = super().read_response(*args, **kwargs)
        if ReplyLost.lose and ReplyLost.only in (None, getattr(self, "command", None)):
            ReplyLost.lose -= 1
            self.disconnect()
            raise redis.ConnectionError("Connection closed by server (test: the reply is lost)")
        return response


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    with throwaway_redis(tmp_path_factory.mktemp("redis")) as port:
        yield port


@pytest.fixture
def server(redis_port):
    """A client configured as the workers' (`redis_params`), whose next reply(ies) can be lost."""
    params = redis_params(Settings({"DOBAE_REDIS_OUTAGE_S": 2}))
    pool = redis.ConnectionPool(host="127.0.0.1", port=redis_port, connection_class=ReplyLost, **params)
    client = redis.Redis(connection_pool=pool)
    client.flushdb()
    ReplyLost.lose, ReplyLost.only = 0, None
    yield client
    ReplyLost.lose, ReplyLost.only = 0, None
    pool.disconnect()


def test_a_pop_whose_reply_was_lost_returns_the_same_request_when_retried(server):
    for score, data in enumerate([b"q1", b"q2", b"q3"]):
        server.zadd("s:requests", {data: score})
    ReplyLost.lose = 1
    got = pop_and_record(server, "s:requests", "s:inflight:w", "s:popped:w", "token-1")
    assert ReplyLost.lose == 0  # the reply was lost once and the script ran again
    assert got == b"q1"
    assert server.zrange("s:requests", 0, -1) == [b"q2", b"q3"]  # q2 not taken by the retry
    assert list(server.hvals("s:inflight:w")) == [b"q1"]
    # the next pop (a new token) takes the next request
    assert pop_and_record(server, "s:requests", "s:inflight:w", "s:popped:w", "token-2") == b"q2"
    assert sorted(server.hvals("s:inflight:w")) == [b"q1", b"q2"]


def test_a_pop_of_an_empty_queue_is_none(server):
    assert pop_and_record(server, "s:requests", "s:inflight:w", "s:popped:w", "token-1") is None
    assert not server.exists("s:inflight:w")


def test_a_push_whose_reply_was_lost_leaves_the_request_queued(server):
    ReplyLost.lose = 1
    push_unseen(server, "s:dupefilter", "fp1", "s:requests", 0, b"q1")
    assert ReplyLost.lose == 0
    # the retry found it seen, and it is queued: not lost
    assert server.zrange("s:requests", 0, -1) == [b"q1"]
    assert server.smembers("s:dupefilter") == {b"fp1"}
    assert push_unseen(server, "s:dupefilter", "fp1", "s:requests", 0, b"q1-again") is False
    assert push_unseen(server, "s:dupefilter", "", "s:requests", 0, b"q1-dont-filter") is True
    assert server.zcard("s:requests") == 2


def test_scrapy_redis_own_dupefilter_loses_the_request_on_a_lost_reply(server):
    """Why `Scheduler` pushes with `push_unseen`: scrapy-redis marks a request seen (SADD) and
    queues it in two commands; the SADD's lost reply makes the retry report it seen, and the
    scheduler drops a request that was never queued."""
    df = RFPDupeFilter(server, "s:dupefilter")
    ReplyLost.lose = 1
    assert df.request_seen(Request("http://127.0.0.1/questions/1")) is True  # never seen before


class S(Spider):
    name = "s"

    def parse(self, response):
        yield from ()


def worker_ext(server, worker: str) -> RedisWorkers:
    """The extension of a worker of spider `s`, on `server`, its engine a recorder of what it
    schedules (`ext.scheduled`; a real engine would fetch)."""
    crawler = get_crawler(S, {"SCHEDULER": "crawler.distributed.Scheduler", "REDIS_URL": "redis://unused"})
    spider = S()
    spider.crawler = crawler
    ext = RedisWorkers(crawler)
    ext.redis, ext.spider, ext.worker = server, spider, worker
    ext.scheduled = []
    crawler.engine = type("Engine", (), {"crawl": staticmethod(ext.scheduled.append)})()
    return ext


def test_a_seed_claim_whose_reply_was_lost_is_still_the_seeders(server):
    """SET NX retried after its lost reply finds the key set (by itself): still the seeder, else
    no worker would yield the start requests."""
    ReplyLost.lose, ReplyLost.only = 1, "SET"
    assert worker_ext(server, "first").claim_seed() is True
    assert ReplyLost.lose == 0
    assert worker_ext(server, "second").claim_seed() is False


def test_a_claim_whose_reply_was_lost_still_schedules_the_dead_workers_requests(server):
    """A live worker claims a dead one's record with RENAME; retried after a lost reply, the RENAME
    finds no such key (it ran): the record is now the claimer's and its requests are scheduled,
    not left under the claimed key for good."""
    ext = worker_ext(server, "live")
    request = Request("http://127.0.0.1/questions.json?page=4", callback=ext.spider.parse)
    server.hset("s:inflight:dead", "f1", pickle.dumps(request.to_dict(spider=ext.spider)))
    server.hset("s:popped:dead", mapping={"token": "t", "field": "f1"})
    ReplyLost.lose, ReplyLost.only = 1, "RENAME"
    assert ext.recover() == 1
    assert ReplyLost.lose == 0
    assert [r.url for r in ext.scheduled] == [request.url]
    assert server.keys("s:*") == []
