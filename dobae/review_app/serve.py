"""Running the review app: loopback by default, a token for any other address, uvicorn in a thread
for tests and screenshots."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def token_for(host: str, token: str | None) -> str | None:
    """The token the app requires: the one given, a fresh one for a non-loopback host, else none."""
    if token is not None and not token.strip():
        from foundation.errors import InputError

        raise InputError("--token is empty: give a token, or leave --token out on 127.0.0.1")
    if token is None and not is_loopback(host):
        return secrets.token_urlsafe(24)
    return token


@contextlib.contextmanager
def serving(app, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run `app` with uvicorn in a thread; yields its base URL (a free port when `port` is 0)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the review app did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{'127.0.0.1' if host in ('0.0.0.0', '127.0.0.1') else host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
