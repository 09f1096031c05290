"""The distributed part of `crawl_bench.py --redis`: `scrapy crawl ohouse` on scrapy-redis with
PostgreSQL against the sandbox (`--scale 5000`): 1 process, 3 processes, and 3 processes of which
one is SIGKILLed a third of the way and a new one joins — each run from an empty database and an
empty Redis, each checked against the golden rows (every question and comment, none twice, none
lost). Prints pages/s of each run and the ratio 3 processes / 1 process, measured in the same run.

PostgreSQL and Redis: `--db-url` / `--redis-url`, else throwaway servers started with the tests'
helpers (.ci/pg.sh, .ci/redis.sh).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAST = ["-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0", "-s", "CONCURRENT_REQUESTS=32",
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32", "-s", "LOG_LEVEL=INFO", "-s", "TELNETCONSOLE_ENABLED=0",
        "-s", "RETRY_BACKOFF_BASE=0.05"]  # fmt: skip


def start_services(db_url: str | None, redis_url: str | None) -> tuple[str, str, str]:
    """(db_url, redis_url, shell lines that stop what was started here)."""
    stop = []
    script = ""
    if db_url is None:
        script += "source .ci/pg.sh && pg_start >/dev/null && echo DB=$DOBAE_TEST_DATABASE_URL PGDIR=$PGDIR PGBIN=$PGBIN;"
    if redis_url is None:
        script += "source .ci/redis.sh && redis_start && echo REDIS=$DOBAE_TEST_REDIS_URL REDISDIR=$REDISDIR;"
    if script:
        out = subprocess.run(
            ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        found = dict(re.findall(r"(\w+)=(\S+)", out))
        if db_url is None:
            db_url = found["DB"]
            stop.append(f"source .ci/pg.sh; PGDIR={found['PGDIR']} PGBIN={found['PGBIN']} pg_stop")
        if redis_url is None:
            redis_url = found["REDIS"]
            stop.append(f"source .ci/redis.sh; REDISDIR={found['REDISDIR']} redis_stop")
    return db_url, redis_url, "; ".join(stop)


def fresh(db_url: str, redis_url: str) -> None:
    import redis

    from db.migrate import downgrade, upgrade
    from db.session import dispose_engines

    downgrade(db_url, "base")
    upgrade(db_url)
    dispose_engines()
    redis.Redis.from_url(redis_url).flushdb()


def crawl(
    base: str, db_url: str, redis_url: str, processes: int, kill: bool, work: Path, site_size: int
) -> dict:
    cmd = [sys.executable, "-m", "scrapy", "crawl", "ohouse", "-a", f"base_url={base}", "-a", "per=100",
           "-a", "incremental=false", *FAST, "-s", "SCHEDULER=crawler.distributed.Scheduler",
           "-s", f"REDIS_URL={redis_url}", "-s", f"DOBAE_DATABASE_URL={db_url}"]  # fmt: skip
    env = {**os.environ, "DOBAE_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT)}
    logs = []

    def start(i: int) -> subprocess.Popen:
        log = open(work / f"p{processes}{'k' if kill else ''}-{i}.log", "w")  # noqa: SIM115
        logs.append(log)
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    t0 = time.monotonic()
    procs = [start(i) for i in range(processes)]
    if kill:
        from sqlalchemy import func, select

        from db.models import Question
        from db.session import session_scope

        while True:  # a third of the questions stored: kill one, start another
            with session_scope(db_url) as s:
                if s.scalar(select(func.count()).select_from(Question)) >= site_size // 3:
                    break
            time.sleep(0.2)
        procs[1].send_signal(signal.SIGKILL)
        procs[1].wait()
        procs.append(start(processes))
    killed = procs[1] if kill else None
    codes = [p.wait() for p in procs if p is not killed]
    wall = time.monotonic() - t0
    for log in logs:
        log.close()
    if any(codes):
        raise SystemExit(f"a crawler failed ({codes}); logs in {work}")
    from db.models import CrawlRun
    from db.session import session_scope

    with session_scope(db_url) as s:
        stats = [r.stats or {} for r in s.query(CrawlRun).all()]
    return {
        "processes": processes, "kill": kill, "wall_s": wall,
        "pages": sum(st.get("downloader/response_count", 0) for st in stats),
        "items": sum(st.get("item_scraped_count", 0) for st in stats),
        "recovered": sum(st.get("distributed/recovered_requests", 0) for st in stats),
    }  # fmt: skip


def check_golden(db_url: str, base: str, site) -> str:
    """'exact' or the first differences from the golden rows."""
    sys.path.insert(0, str(ROOT / "tests" / "crawler"))
    from crawl_helpers import expected_rows, golden_diff, stored_rows

    from crawler.sandbox.golden import deleted_ids, golden_rows

    diff = golden_diff(stored_rows(db_url), expected_rows(base, golden_rows(site), deleted_ids(site)))
    return "exact" if not diff else f"{len(diff)} differences: " + "; ".join(diff[:5])


def run(scale: int, db_url: str | None, redis_url: str | None) -> None:
    from crawler.sandbox import Site

    if shutil.which("redis-server") is None and redis_url is None:
        raise SystemExit(
            "redis-server is not installed (apt-get install redis-server) and no --redis-url given"
        )
    db_url, redis_url, stop = start_services(db_url, redis_url)
    if not db_url.startswith("postgresql"):
        raise SystemExit(
            "--redis needs PostgreSQL (several writer processes): --db-url postgresql+psycopg://…"
        )
    port = None
    server = None
    try:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        import urllib.request

        results = []
        with tempfile.TemporaryDirectory(prefix="crawl-redis-") as tmp:
            for processes, kill in ((1, False), (3, False), (3, True)):
                fresh(db_url, redis_url)
                # the sandbox's late post is published by the first list page: restart the site per run
                if server is not None:
                    server.terminate()
                    server.wait(10)
                server = subprocess.Popen(
                    [sys.executable, "-m", "crawler", "sandbox", "serve", "--port", str(port), "--scale", str(scale)],
                    cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                )  # fmt: skip
                for _ in range(600):
                    try:
                        urllib.request.urlopen(base + "/_sandbox/state", timeout=1).read()
                        break
                    except OSError:
                        time.sleep(0.2)
                r = crawl(base, db_url, redis_url, processes, kill, Path(tmp), scale)
                r["golden"] = check_golden(db_url, base, Site(scale=scale))
                results.append(r)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if stop:
            subprocess.run(["bash", "-c", stop], cwd=ROOT, check=False)
    print(f"distributed (scrapy-redis + PostgreSQL): sandbox {scale} questions at 127.0.0.1, throttling off")
    print(f"{'run':<34}{'pages':>8}{'items':>8}{'seconds':>9}{'pages/s':>9}  rows")
    for r in results:
        name = f"{r['processes']} process{'es' if r['processes'] > 1 else ''}"
        if r["kill"]:
            name += f", 1 killed + 1 joined ({r['recovered']} re-queued)"
        print(
            f"{name:<34}{r['pages']:>8}{r['items']:>8}{r['wall_s']:>9.1f}{r['pages'] / r['wall_s']:>9.1f}  {r['golden']}"
        )
    one, three = results[0], results[1]
    print(
        f"ratio 3 processes / 1 process (pages/s): {(three['pages'] / three['wall_s']) / (one['pages'] / one['wall_s']):.2f}"
    )
