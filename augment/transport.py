"""How a request body reaches the server: through the async `openai` SDK (default; ~1 ms of CPU per
request: its request building and httpx layers) or, for high-volume jobs on small machines, posted
directly with one aiohttp session (~0.4 ms). Both give the same `Sent` outcomes: the decoded JSON,
or a failure named by its cause (`augment.retry_policy.connection_failure`) or its HTTP status."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import openai

from augment.retry_policy import connection_failure
from foundation.settings import LLMSettings


@dataclass
class Sent:
    """One HTTP exchange: the decoded JSON, or a failure reason (+ status and headers of an error)."""

    payload: Any = None
    reason: str | None = None
    detail: str = ""
    status: int | None = None
    headers: Any = None


def has_aiohttp() -> bool:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


def _http_client() -> Any:
    """aiohttp under the SDK when installed (httpx's pool is slow at high concurrency), else httpx."""
    return openai.DefaultAioHttpClient() if has_aiohttp() else None


def env_proxy(url: str) -> str | None:
    """The HTTP(S)_PROXY for `url` unless NO_PROXY exempts it (what the SDK's transport honours).
    Resolved once per client: aiohttp's `trust_env` looks it up on every request (~0.5 ms each)."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    proxy = getproxies().get(parts.scheme)
    if not proxy or proxy_bypass(parts.netloc):
        return None
    return proxy


class Transport:
    """The SDK client (always: it also lists the models) and, with `direct`, one aiohttp session
    that the requests go through instead. Open it inside the event loop; `close()` when done."""

    def __init__(self, llm: LLMSettings, direct: bool) -> None:
        self.llm = llm
        self.sdk = openai.AsyncOpenAI(
            base_url=llm.base_url,
            api_key=llm.api_key.get_secret_value() or "none",
            max_retries=0,  # retries are the client's: backoff with jitter, Retry-After, reasons recorded
            timeout=llm.timeout_s,
            http_client=_http_client(),
        )
        self.session: Any = None  # aiohttp.ClientSession of the direct transport
        self.proxy: str | None = None
        self.chat_url = llm.base_url.rstrip("/") + "/chat/completions"
        if direct:
            import aiohttp

            self.session = aiohttp.ClientSession(
                # one pool, as many connections as requests in flight (keep-alive, no queueing)
                connector=aiohttp.TCPConnector(limit=llm.concurrency, limit_per_host=0),
                timeout=aiohttp.ClientTimeout(total=llm.timeout_s),
                headers={
                    "Authorization": f"Bearer {llm.api_key.get_secret_value() or 'none'}",
                    "Content-Type": "application/json",
                },
            )
            self.proxy = env_proxy(self.chat_url)

    async def close(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            await session.close()
        await self.sdk.close()

    async def send(self, data: bytes, path: str = "/chat/completions") -> Sent:
        """POST `data` (a JSON body, serialised once) to `path` below the base URL."""
        return await (
            self._send_direct(data, path) if self.session is not None else self._send_sdk(data, path)
        )

    async def _send_sdk(self, data: bytes, path: str) -> Sent:
        try:
            resp = await self.sdk.post(
                path,
                content=data,
                options={"headers": {"Content-Type": "application/json"}},
                cast_to=object,
            )
        except openai.APIConnectionError as exc:  # APITimeoutError too: named by its root cause
            reason, detail = connection_failure(exc, self.llm.base_url, self.llm.timeout_s)
            return Sent(reason=reason, detail=detail)
        except ValueError as exc:  # the body was not JSON (json.JSONDecodeError)
            return Sent(reason="bad_response", detail=f"malformed JSON body: {exc}")
        except openai.APIStatusError as exc:
            headers = exc.response.headers if exc.response is not None else None
            return Sent(reason="status", detail=str(exc), status=exc.status_code, headers=headers)
        return Sent(payload=resp)

    async def _send_direct(self, data: bytes, path: str) -> Sent:
        """POST with aiohttp: the same outcomes as the SDK path, a fifth of its CPU per request."""
        import aiohttp

        url = self.chat_url if path == "/chat/completions" else self.llm.base_url.rstrip("/") + path
        try:
            async with self.session.post(url, data=data, proxy=self.proxy) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    text = raw.decode("utf-8", errors="replace")
                    return Sent(
                        reason="status", detail=f"Error code: {resp.status} - {text}", status=resp.status,
                        headers=resp.headers,
                    )  # fmt: skip
        except (TimeoutError, aiohttp.ClientError) as exc:  # refused, DNS, TLS, reset, truncated body
            reason, detail = connection_failure(exc, self.llm.base_url, self.llm.timeout_s)
            return Sent(reason=reason, detail=detail)
        try:
            return Sent(payload=json.loads(raw))
        except ValueError as exc:
            return Sent(reason="bad_response", detail=f"malformed JSON body: {exc}")
