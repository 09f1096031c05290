"""The demo's process handling (`dobae.demo.processes`): the real sandbox site is started, answers,
and is gone after its block; one that cannot start is one line naming its log; a crawl command's
exit status and output come back."""

from __future__ import annotations

import socket
import sys
import urllib.request

import pytest


def _refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_the_sandbox_site_answers_inside_its_block_and_is_stopped_after(tmp_path):
    from dobae.demo.processes import sandbox_site

    with sandbox_site(tmp_path / "sandbox.log") as base:
        assert urllib.request.urlopen(base + "/robots.txt", timeout=5).status == 200
    assert _refused(int(base.rsplit(":", 1)[1]))


def test_a_sandbox_site_that_cannot_start_names_its_log(tmp_path, monkeypatch):
    """Its port is taken (the free-port choice is forced onto a listening socket): the server exits
    and the error says so, naming the log, instead of waiting 60 s."""
    from dobae.demo import processes
    from foundation.errors import ConfigError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(processes, "free_port", lambda: taken.getsockname()[1])
        log = tmp_path / "sandbox.log"
        with pytest.raises(ConfigError, match=r"`dobae sandbox serve` exited with \d+; see .*sandbox\.log"):
            with processes.sandbox_site(log):
                pass
    assert log.stat().st_size > 0


def test_run_crawl_returns_the_exit_status_and_keeps_the_output(tmp_path):
    from dobae.demo.processes import run_crawl

    log = tmp_path / "crawl.log"
    line = "Crawled 3 pages (at 3 pages/min), scraped 2 items (at 2 items/min)"
    code = f"import time; print({line!r}, flush=True); time.sleep(0.7); raise SystemExit(3)"
    assert run_crawl([sys.executable, "-c", code], log) == 3
    assert line in log.read_text(encoding="utf-8")
