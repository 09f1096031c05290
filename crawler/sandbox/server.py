"""Running the sandbox: in a background thread (tests: `with serve_sandbox(port=0) as base_url:`)
or in the foreground (`dobae sandbox serve`). uvicorn serves the Starlette app."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from crawler.sandbox.app import create_app
from crawler.sandbox.site import Site
from foundation.errors import ConfigError


class _IntendedShortBody(logging.Filter):
    """The short-body fault ends responses early on purpose: not an error worth a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_IntendedShortBody())


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free port); a clear error when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted sockets (else ~40 ms per response)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror} (choose another --port, or 0)"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class SandboxServer:
    """The site, its socket and the uvicorn server; `base_url` once bound."""

    def __init__(
        self, site: Site | None = None, host: str = "127.0.0.1", port: int = 0, **site_kwargs
    ) -> None:
        self.site = site if site is not None else Site(**site_kwargs)
        self.sock = bind(host, port)
        self.host = host
        self.port = self.sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{self.port}"
        config = uvicorn.Config(
            create_app(self.site), log_level="warning", access_log=False, date_header=False,
            server_header=False, http="h11", loop="asyncio", lifespan="off", timeout_keep_alive=30,
            backlog=2048,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve in this thread until interrupted."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def start(self) -> SandboxServer:
        self.server.config.install_signal_handlers = False  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.run, name="sandbox-site", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the sandbox site did not start on {self.base_url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)


@contextmanager
def serve_sandbox(
    port: int = 0,
    scale: int | None = None,
    *,
    host: str = "127.0.0.1",
    site: Site | None = None,
    **site_kwargs,
) -> Iterator[str]:
    """Serve the sandbox in a background thread; yields its base URL (`http://127.0.0.1:PORT`).

    Pass `site=Site(...)` to keep a handle on the content (e.g. `site.edit(1001)`).
    """
    if site is None:
        site = Site(scale=scale, **site_kwargs)
    server = SandboxServer(site, host=host, port=port).start()
    try:
        yield server.base_url
    finally:
        server.stop()
