"""The processes the demo starts and stops: the sandbox site, a crawl, the local model server.

Each is started, waited for and stopped here, so a step only says what to run: `sandbox_site`
(`dobae sandbox serve` on a free port, up until the block ends), `run_crawl` (a `scrapy crawl`
subprocess with a progress bar fed by Scrapy's LogStats lines) and `local_llm` (the augment
stage's local OpenAI-compatible server, with settings that point the LLM client at it).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from foundation.console import progress
from foundation.errors import ConfigError
from foundation.settings import Settings

ROOT = Path(__file__).resolve().parents[2]  # the checkout: subprocesses run here

LOGSTATS = re.compile(r"Crawled (\d+) pages .*?scraped (\d+) items")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def sandbox_site(log: Path) -> Iterator[str]:
    """Start `dobae sandbox serve` on 127.0.0.1 (a free port; output in `log`), yield its base URL
    once it answers, stop it after."""
    port = free_port()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dobae.cli", "sandbox", "serve", "--port", str(port)],
            cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise ConfigError(f"`dobae sandbox serve` exited with {proc.returncode}; see {log}")
            try:
                urllib.request.urlopen(base + "/robots.txt", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ConfigError(f"the sandbox site did not answer within 60 s; see {log}") from None
                time.sleep(0.3)
        yield base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def scrapy_command() -> str:
    """The venv's `scrapy` next to this Python, else the one on PATH."""
    scrapy = Path(sys.executable).with_name("scrapy")
    return str(scrapy) if scrapy.exists() else "scrapy"


def run_crawl(cmd: list[str], log: Path) -> int:
    """Run a `scrapy crawl` command (output in `log`) until it exits, showing pages and items
    scraped from Scrapy's LogStats lines; returns its exit status."""
    with open(log, "wb") as fh, progress(transient=True) as bar:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
        task = bar.add_task("crawl: items scraped", total=None)
        while proc.poll() is None:
            time.sleep(0.5)
            found = LOGSTATS.findall(log.read_text(encoding="utf-8", errors="replace")[-4000:])
            if found:  # Scrapy's LogStats line, every second
                pages, items = found[-1]
                bar.update(task, completed=int(items), description=f"crawl: {pages} pages, items scraped")
    return proc.returncode


@contextmanager
def local_llm(settings: Settings, model: Path, log: Path, **llm: object) -> Iterator[Settings]:
    """Start the local OpenAI-compatible server on `model` (output in `log`; 300 s to start) and
    yield `settings` with the LLM client pointed at it (`llm`: further client settings); stop it after."""
    from augment import server

    with server.local_server(model, log_path=log, startup_timeout_s=300) as srv:
        update = {"base_url": srv.base_url, "model": srv.model, **llm}
        yield settings.model_copy(update={"llm": settings.llm.model_copy(update=update)})
