"""A request that gets no answer is named by its cause — connection refused, DNS, TLS, timeout,
HTTP status — on both transports; augmentation where no item succeeded is a `failed` job and a
non-zero exit with one error line, and no aiohttp session is left unclosed."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aug_fault_server import Fault
from aug_helpers import insert_pairs, llm_env
from backends import one_backend_each
from sqlalchemy import select

from augment.client import ChatRequest, LLMClient
from augment.schemas import Keywords
from db.models import AugmentJob, RunStatus
from db.session import session_scope
from foundation.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
MSG = [{"role": "user", "content": '질문: 벽지 곰팡이\nJSON으로만 답하세요: {"keywords": ["..."]}'}]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # released: nothing listens there


def complete(**llm):
    s = get_settings()

    async def go():
        async with LLMClient(s.llm.model_copy(update=llm), s.augment, None) as client:
            return await client.complete(ChatRequest(MSG, Keywords))

    return asyncio.run(go())


@pytest.mark.parametrize("transport", ["sdk", "aiohttp"])
def test_each_failure_is_named_by_its_cause(sqlite_url, fault_server, monkeypatch, transport):
    llm_env(monkeypatch, fault_server.base_url, model="m", DOBAE_LLM__TRANSPORT=transport)
    refused = complete(base_url=f"http://127.0.0.1:{closed_port()}/v1", max_retries=0)
    assert refused.error == "connection_refused" and "is the server running" in refused.detail
    dns = complete(base_url="http://no-such-host.invalid/v1", max_retries=3)
    assert dns.error == "dns_error" and dns.attempts == 1  # not retried: the address must change
    tls = complete(base_url=fault_server.base_url.replace("http://", "https://"), max_retries=3)
    assert tls.error == "tls_error" and tls.attempts == 1, (tls.error, tls.detail)
    fault_server.script(Fault(503), Fault(503))
    status = complete(max_retries=1)
    assert status.error == "http_503" and status.attempts == 2
    fault_server.script(Fault(sleep_s=1.0))
    slow = complete(max_retries=0, timeout_s=0.3)
    assert slow.error == "timeout"


def dobae(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dobae.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        env=env,
    )


# each transport on one database (the subject is the failed job's one line and its row)
@one_backend_each("transport", [("sdk",), ("aiohttp",)], ids=["sdk", "aiohttp"])
def test_no_item_succeeded_is_a_failed_job_and_exit_1(db_url, monkeypatch, transport):
    import os

    insert_pairs(db_url)
    base = f"http://127.0.0.1:{closed_port()}/v1"
    env = {**os.environ, "DOBAE_DATABASE_URL": db_url, "DOBAE_LLM__BASE_URL": base, "DOBAE_LLM__MODEL": "m",
           "DOBAE_LLM__TRANSPORT": transport, "DOBAE_LLM__MAX_RETRIES": "1",
           "DOBAE_AUGMENT__BACKOFF_BASE_S": "0.01"}  # fmt: skip
    proc = dobae("augment", "paraphrase-questions", "--limit", "2", env=env)
    assert proc.returncode == 1, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "all 2 item(s) failed (connection_refused 2)" in errors[0], proc.stderr
    assert f"connection refused by {base}" in errors[0]
    assert "Unclosed" not in proc.stderr and "Traceback" not in proc.stderr and "timeout" not in proc.stderr
    with session_scope(db_url) as s:
        (job,) = s.scalars(select(AugmentJob)).all()
        assert job.status == RunStatus.failed and job.errors == 2 and job.done == 0

    # the model cannot even be listed: one line, sessions closed
    proc = dobae("augment", "keywords", "--limit", "1", env={**env, "DOBAE_LLM__MODEL": ""})
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith(f"error: cannot list models at {base}: connection_refused")
    assert "Unclosed" not in proc.stderr and "Traceback" not in proc.stderr
