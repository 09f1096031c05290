"""Crawl throughput: the `ohouse` spider against the sandbox at ≥ 5,000 questions, both on 127.0.0.1,
throttling off. The same crawl runs twice: items discarded after validation/normalisation (the
baseline) and items written to SQLite through the database pipeline. Prints pages/s, items/s,
peak memory, the ratio database/baseline (goal ≥ 0.85) and the machine.

    python benchmarks/crawl_bench.py [--scale 5000] [--db-url sqlite:///…]
    python benchmarks/crawl_bench.py --redis [--scale 5000]   # distributed: 1 vs 3 processes (crawl_redis.py)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402

CHILD = r"""
import json, sys
from crawler.run import crawl_settings, run_crawl
base_url, discard, db_url, out = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
settings = crawl_settings(throttle=False, db_url=db_url, discard=discard,
                          overrides={"LOG_LEVEL": "WARNING", "CONCURRENT_REQUESTS": 32,
                                     "CONCURRENT_REQUESTS_PER_DOMAIN": 32, "ROBOTSTXT_OBEY": True})
stats = run_crawl("ohouse", {"base_url": base_url, "per": "100", "incremental": "false"}, settings)
json.dump({k: v for k, v in stats.items() if isinstance(v, (int, float, str))}, open(out, "w"))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(scale: int, site: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    if site == "sandbox":
        cmd = [
            sys.executable,
            "-m",
            "crawler",
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--scale",
            str(scale),
        ]
    else:  # the crawl tests' small ohouse-shaped site with `scale` generated questions
        cmd = [sys.executable, "tests/crawler/mini_site.py", str(port), os.devnull, str(scale), "0"]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"sandbox exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(base + "/robots.txt", timeout=1).read()
            return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("sandbox did not start within 120 s")


def crawl(base: str, discard: bool, db_url: str, workdir: Path) -> dict:
    out = workdir / f"stats-{int(discard)}.json"
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", CHILD, base, "1" if discard else "0", db_url, str(out)], check=True, cwd=ROOT
    )
    wall = time.monotonic() - t0
    stats = json.loads(out.read_text())
    elapsed = stats["elapsed_s"]
    items = stats.get("item_scraped_count", 0) + stats.get("discarded_items", 0)
    pages = stats.get("downloader/response_count", 0)
    return {
        "wall_s": wall,
        "crawl_s": elapsed,
        "pages": pages,
        "items": items,
        "pages_per_s": pages / elapsed,
        "items_per_s": items / elapsed,
        "peak_mb": stats.get("memusage/max", 0) / 2**20,
        "dropped": stats.get("item_dropped_count", 0) - stats.get("discarded_items", 0),
    }


def _fresh(db_url: str, work: Path, i: int) -> str:
    """Each database run starts from an empty, migrated database (no incremental skipping)."""
    if not db_url.startswith("sqlite"):
        return db_url
    from db.migrate import upgrade

    url = f"sqlite:///{work / f'bench-{i}.db'}"
    upgrade(url)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=int, default=5000, help="sandbox questions (≥ 5000 for the README figure)"
    )
    parser.add_argument("--db-url", default=None, help="database (default: a fresh SQLite file)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each variant, alternating; the best counts"
    )
    parser.add_argument(
        "--site",
        choices=["auto", "sandbox", "mini"],
        default="auto",
        help="local site to crawl; auto: the sandbox when crawler.sandbox exists, else the tests' mini site",
    )
    parser.add_argument(
        "--redis",
        action="store_true",
        help="distributed crawl on scrapy-redis + PostgreSQL: 1 vs 3 processes",
    )
    parser.add_argument("--redis-url", default=None, help="with --redis (default: a throwaway redis-server)")
    ns = parser.parse_args()
    if ns.redis:
        from benchmarks.crawl_redis import run

        print(f"machine: {describe()}")
        run(ns.scale, ns.db_url, ns.redis_url)
        return
    if ns.site == "auto":
        import importlib.util

        ns.site = "sandbox" if importlib.util.find_spec("crawler.sandbox") else "mini"
    print(f"machine: {describe()}")
    proc, base = start_sandbox(ns.scale, ns.site)
    try:
        with tempfile.TemporaryDirectory(prefix="crawl-bench-") as tmp:
            work = Path(tmp)
            db_url = ns.db_url or f"sqlite:///{work / 'bench.db'}"
            from db.migrate import upgrade

            upgrade(db_url)  # schema creation is one-time setup, not crawl throughput
            base_runs, db_runs = [], []
            for i in range(ns.repeat):
                base_runs.append(crawl(base, True, db_url, work))
                db_runs.append(crawl(base, False, f"{db_url}" if i == 0 else _fresh(db_url, work, i), work))
            base_run = max(base_runs, key=lambda r: r["items_per_s"])
            db_run = max(db_runs, key=lambda r: r["items_per_s"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(
        f"{ns.site} site: {ns.scale} questions at {base}; throttling off; database {db_url.split(':')[0]}; "
        f"best of {ns.repeat} alternating run(s) each"
    )
    print(f"{'run':<22}{'pages':>8}{'items':>8}{'seconds':>9}{'pages/s':>9}{'items/s':>9}{'peak MB':>9}")
    for name, r in (("items discarded", base_run), ("database pipeline", db_run)):
        print(
            f"{name:<22}{r['pages']:>8}{r['items']:>8}{r['crawl_s']:>9.1f}"
            f"{r['pages_per_s']:>9.1f}{r['items_per_s']:>9.1f}{r['peak_mb']:>9.0f}"
        )
    ratio = db_run["items_per_s"] / base_run["items_per_s"]
    print(f"ratio database/discarded (items/s): {ratio:.2f} (goal ≥ 0.85)")
    if db_run["items"] != base_run["items"]:
        print(f"WARNING: item counts differ ({db_run['items']} vs {base_run['items']})")


if __name__ == "__main__":
    main()
