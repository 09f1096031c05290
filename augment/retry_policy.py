"""Which failed LLM requests are tried again, and how long to wait before the next try.

- a status of 408, 409, 429 or 5xx is retried; another 4xx is final;
- a request that got no HTTP answer is named by its root cause (`connection_failure`):
  `connection_refused`, `timeout` and `connection_error` are retried, `tls_error` and `dns_error`
  are final (the address or certificate must be fixed first);
- the wait is the server's `Retry-After` / `retry-after-ms` plus up to 10 % jitter, else an
  exponential backoff with full jitter (`backoff_s`).
"""

from __future__ import annotations

import email.utils
import random
import time
from typing import Any

from foundation.settings import AugmentSettings

RETRYABLE_STATUS = {408, 409, 429}
FAST_FAIL = {"tls_error", "dns_error"}  # no retry: the address or certificate must be fixed first


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date); None if absent."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def backoff_s(augment: AugmentSettings, attempt: int) -> float:
    """Exponential backoff with full jitter: between half and all of `base · 2^attempt` (capped)."""
    cap = min(augment.backoff_max_s, augment.backoff_base_s * (2**attempt))
    return random.uniform(cap / 2, cap) if cap > 0 else 0.0


def retry_delay(wait: float | None, augment: AugmentSettings, attempt: int) -> float:
    """The server's wait (`Retry-After`) plus up to 10 % jitter, else `backoff_s`."""
    return wait + random.uniform(0, 0.1 * wait) if wait is not None else backoff_s(augment, attempt)


def is_final_status(status: int) -> bool:
    """A status no retry can change (a 4xx other than 408, 409 and 429)."""
    return status not in RETRYABLE_STATUS and status < 500


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and its causes (the SDK wraps httpx, which wraps aiohttp, which wraps the OS error)."""
    out: list[BaseException] = []
    x: BaseException | None = exc
    while x is not None and x not in out and len(out) < 12:
        out.append(x)
        x = x.__cause__ or x.__context__
    return out


def connection_failure(exc: BaseException, url: str, timeout_s: float) -> tuple[str, str]:
    """(reason, detail) of a request that got no HTTP answer, named by its root cause:
    `connection_refused`, `dns_error`, `tls_error`, `timeout` or `connection_error`. (The SDK's
    aiohttp transport reports a refused connection as "Request timed out.")"""
    import socket
    import ssl

    chain = _chain(exc)
    names = [type(x).__name__ for x in chain]
    root = chain[-1]
    if any(isinstance(x, ssl.SSLError) for x in chain) or any(
        "SSL" in n or "Certificate" in n for n in names
    ):
        return "tls_error", f"TLS failed with {url} ({root}): check the https:// address or the certificate"
    if any(isinstance(x, ConnectionRefusedError) for x in chain):
        return "connection_refused", f"connection refused by {url}: is the server running there? ({root})"
    if any(isinstance(x, socket.gaierror) for x in chain) or "ClientConnectorDNSError" in names:
        return "dns_error", f"cannot resolve the host of {url} ({root}): check DOBAE_LLM__BASE_URL"
    if any(isinstance(x, TimeoutError) for x in chain) or any("Timeout" in n for n in names):
        return "timeout", f"no answer from {url} within {timeout_s:g} s ({root!r})"
    return "connection_error", f"{type(root).__name__}: {root}"
