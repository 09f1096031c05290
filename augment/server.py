"""Start a real OpenAI-compatible server on 127.0.0.1 running a local model (offline).

`transformers serve MODEL_DIR` (transformers ≥ 5, the `serve` extra) pins the model folder, so
requests must name the model exactly as the folder path; `local_server()` returns the base URL
and that name. On GPU machines, `vllm serve` is the faster choice; point `DOBAE_LLM__BASE_URL`
at it instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from foundation.errors import ConfigError


@dataclass(frozen=True)
class LocalServer:
    base_url: str  # e.g. http://127.0.0.1:8011/v1
    model: str  # the name requests must use
    pid: int
    log_path: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(model: Path, port: int, device: str = "cpu") -> list[str]:
    exe = shutil.which("transformers") or str(Path(sys.executable).with_name("transformers"))
    if not Path(exe).exists():
        raise ConfigError("the `transformers` command is missing: pip install -e '.[serve]'")
    return [exe, "serve", str(model), "--host", "127.0.0.1", "--port", str(port), "--device", device]


def wait_healthy(
    url: str, proc: subprocess.Popen | None, timeout_s: float, log_path: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path and log_path.exists() else ""
            raise ConfigError(f"the model server exited with code {proc.returncode}; log {log_path}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise ConfigError(
        f"the model server at {url} did not become healthy within {timeout_s:g} s; see {log_path}"
    )


@contextmanager
def local_server(
    model: str | Path,
    *,
    port: int | None = None,
    device: str = "cpu",
    log_path: Path | None = None,
    startup_timeout_s: float = 120.0,
    threads: int = 1,
) -> Iterator[LocalServer]:
    """`with local_server(path) as srv:` runs `transformers serve` on 127.0.0.1 until the block ends."""
    model_path = Path(model).resolve()
    if not (model_path / "config.json").exists():
        raise ConfigError(
            f"{model_path} is not a transformers model folder (no config.json); "
            "convert a GGUF or save a model with save_pretrained first"
        )
    port = port or free_port()
    log_path = log_path or Path(os.environ.get("TMPDIR", "/tmp")) / f"dobae-serve-{port}.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            serve_command(model_path, port, device),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, startup_timeout_s, log_path)
        yield LocalServer(f"http://127.0.0.1:{port}/v1", str(model_path), proc.pid, log_path)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
