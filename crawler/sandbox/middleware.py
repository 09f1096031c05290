"""The sandbox's ASGI middleware: the request log (`Site.request_log`) and the rate limit."""

from __future__ import annotations

import math
import time

from crawler.sandbox.responses import respond
from crawler.sandbox.site import Site


class RequestLog:
    """Every request's arrival time, method, path?query and (once answered) status into
    `site.request_log` (status 0 while unanswered, e.g. a slow page the client gave up on)."""

    def __init__(self, app, site: Site) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        entry = self.site.log_request(scope["method"], scope["path"] + (f"?{query}" if query else ""))

        async def logged_send(message) -> None:
            if message["type"] == "http.response.start":
                entry[3] = message["status"]
            await send(message)

        await self.app(scope, receive, logged_send)


class RateLimit:
    """A token bucket per client address; an empty bucket gives 429 + Retry-After."""

    def __init__(self, app, site: Site) -> None:
        self.app = app
        self.site = site
        self.state = getattr(app, "state", None)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sandbox/"):
            client = (scope.get("client") or ("?", 0))[0]
            wait = self.site.take_token(client, time.monotonic())
            if wait > 0:
                response = respond('{"error":"rate limited"}', 429, "application/json",
                                   {"Retry-After": str(max(1, math.ceil(wait)))})  # fmt: skip
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
