"""One bounded HTTP GET for the commands that fetch a URL the user names (`dobae docs add URL`,
`dobae crawl probe URL`; Scrapy crawls have their own caps).

A fetch reads at most `fetch.max_mb` megabytes, waits at most `fetch.idle_s` seconds for the next
bytes and at most `fetch.deadline_s` seconds in all; anything else (refused, unknown host, too
big, too slow) is one `InputError` line naming the URL with its password shown as `***`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from foundation.errors import InputError


@dataclass
class Fetched:
    url: str  # the URL that answered (after redirects)
    status: int
    headers: httpx.Headers
    content: bytes
    redirected_from: list[str]  # the URLs that redirected, in order

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def redact(url: str) -> str:
    """`url` with the password of `user:password@host` shown as `***` (for messages and storage)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL": mask what looks like user:password@
        return _USERINFO.sub(r"\1***@", url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


_USERINFO = re.compile(r"(://[^/:@\s]*:)[^@/\s]*@")


def redact_all(value):
    """`value` (str, list, dict, nested) with every URL password in its strings shown as `***`."""
    if isinstance(value, str):
        return _USERINFO.sub(r"\1***@", value)
    if isinstance(value, list):
        return [redact_all(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_all(v) for k, v in value.items()}
    return value


def split_url(url: str, what: str):
    """`urlsplit(url)`, or one `InputError` line for a URL that does not parse (`http://[::1`)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise InputError(f"{what}: {redact(url)!r} is not a usable URL ({exc})") from None
    return parts


def _limits():
    from foundation.settings import get_settings

    return get_settings().fetch


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "no connection within the time limit"
    if isinstance(exc, httpx.ReadTimeout):
        return "the server sent nothing for too long"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "refused" in text.lower():
            return "connection refused (is the server up at that address?)"
        if re.search(r"name or service not known|nodename nor servname|getaddrinfo|resolution", text, re.I):
            return "unknown host"
        return f"cannot connect ({text})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def fetch(
    url: str,
    *,
    client: httpx.Client | None = None,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = True,
    what: str = "fetch",
) -> Fetched:
    """GET `url` within the size and time limits; redirects followed (at most 5) if asked.

    `what` starts each error line (`docs add`, `crawl probe`)."""
    parts = split_url(url, what)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InputError(f"{what}: {redact(url)!r} is not an http(s) URL")
    limits = _limits()
    max_bytes = int(limits.max_mb * 1024 * 1024)
    shown = redact(url)
    deadline = time.monotonic() + limits.deadline_s
    timeout = httpx.Timeout(limits.idle_s)
    own = client is None
    client = client or httpx.Client(headers=headers or {})
    hops: list[str] = []
    try:
        target = url
        for _ in range(6):
            with client.stream("GET", target, timeout=timeout, headers=headers) as resp:
                if follow_redirects and resp.is_redirect and "location" in resp.headers:
                    hops.append(redact(target))
                    target = str(resp.url.join(resp.headers["location"]))
                    continue
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise InputError(
                        f"{what}: {shown}: {int(declared):,} bytes, more than the {max_bytes:,} a fetch may "
                        f"read: raise DOBAE_FETCH__MAX_MB (now {limits.max_mb:g}) or download the file"
                    )
                body = bytearray()
                for chunk in resp.iter_bytes():  # decoded: a gzip bomb counts as what it unpacks to
                    body += chunk
                    if len(body) > max_bytes:
                        raise InputError(
                            f"{what}: {shown}: more than the {max_bytes:,} bytes a fetch may read: "
                            f"raise DOBAE_FETCH__MAX_MB (now {limits.max_mb:g}) or download the file"
                        )
                    if time.monotonic() > deadline:
                        raise _too_slow(what, shown, limits.deadline_s)
                if time.monotonic() > deadline:
                    raise _too_slow(what, shown, limits.deadline_s)
                return Fetched(redact(str(resp.url)), resp.status_code, resp.headers, bytes(body), hops)
        raise InputError(f"{what}: {shown}: more than 5 redirects")
    except httpx.HTTPError as exc:
        raise InputError(f"{what}: cannot fetch {shown}: {_reason(exc)}") from None
    except httpx.InvalidURL as exc:
        raise InputError(f"{what}: {shown!r} is not a usable URL ({exc})") from None
    finally:
        if own:
            client.close()


def _too_slow(what: str, shown: str, deadline_s: float) -> InputError:
    return InputError(
        f"{what}: {shown}: not complete after {deadline_s:g} s, the server is too slow: "
        "raise DOBAE_FETCH__DEADLINE_S or download the file"
    )
