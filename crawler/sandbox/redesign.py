"""`dobae sandbox serve --redesign SEED`: the next redesign of the site, simulated. Every class,
id and `data-*` attribute name of every HTML page is renamed to an opaque token (the same token
for the same name on every page, as a build with new hashed names would); what the attributes
and scripts carry (JSON payloads, `__NEXT_DATA__`) is left as it is. A crawl can then only rely on
the document's structure: the spider's structural fallback (`crawler/parsers/generic.py`).
"""

from __future__ import annotations

import hashlib
import re

TAG = re.compile(r"<[a-zA-Z][^<>]*>")
SCRIPT = re.compile(r"(<script\b[^>]*>)(.*?)(</script>)", re.S | re.I)
ATTR = re.compile(r"""(\s)(class|id|data-[\w-]+)(\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)?""", re.I)


def token(seed: int, name: str) -> str:
    return "r" + hashlib.sha1(f"{seed}:{name}".encode()).hexdigest()[:7]


def _tag(seed: int, tag: str) -> str:
    def attr(m: re.Match) -> str:
        space, name, eq, value = m.groups()
        lname = name.lower()
        if lname.startswith("data-"):
            return f"{space}data-{token(seed, lname)}{eq}{value or ''}"
        if value is None:
            return m.group(0)
        quote = value[0] if value[0] in "\"'" else ""
        raw = value[1:-1] if quote else value
        renamed = " ".join(token(seed, f"{lname}:{part}") for part in raw.split())
        return f"{space}{name}{eq}{quote}{renamed}{quote}"

    return ATTR.sub(attr, tag)


def redesign(page: str, seed: int) -> str:
    """`page` with every class, id and data-* name renamed (script contents untouched)."""
    out, last = [], 0
    for m in SCRIPT.finditer(page):
        out.append(TAG.sub(lambda t: _tag(seed, t.group(0)), page[last : m.start()]))
        out.append(_tag(seed, m.group(1)) + m.group(2) + m.group(3))
        last = m.end()
    out.append(TAG.sub(lambda t: _tag(seed, t.group(0)), page[last:]))
    return "".join(out)


class Redesign:
    """ASGI middleware: HTML responses through `redesign` (Content-Length adjusted)."""

    def __init__(self, app, seed: int) -> None:
        self.app = app
        self.seed = seed

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        html = False

        async def wrapped(message) -> None:
            nonlocal start, html
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                html = b"text/html" in headers.get(b"content-type", b"")
                if not html:
                    await send(message)
                else:
                    start = message
                return
            if message["type"] == "http.response.body" and html:
                raw = message.get("body", b"").decode(
                    "utf-8", "surrogateescape"
                )  # a cut body may split a character
                body = redesign(raw, self.seed).encode("utf-8", "surrogateescape")
                if start is not None:
                    headers = list(start.get("headers") or [])
                    if not message.get("more_body"):
                        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                        headers.append((b"content-length", str(len(body)).encode()))
                    await send({**start, "headers": headers})
                    start = None
                await send({**message, "body": body})
                return
            await send(message)

        await self.app(scope, receive, wrapped)
