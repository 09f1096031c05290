"""The sandbox's HTTP answers: every response carries the site's fixed clock in `Date` (relative
dates such as "3일 전" are relative to it), plus the errors and query parameters routes share."""

from __future__ import annotations

import html
import json

from starlette.requests import Request
from starlette.responses import Response

from crawler.sandbox.content import HTTP_DATE
from crawler.sandbox.site import Site


def site_of(request: Request) -> Site:
    """The `Site` the app serves (`create_app` keeps it in `app.state`)."""
    return request.app.state.site


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def respond(
    body: str | bytes, status: int = 200, ctype: str = "text/html; charset=utf-8", headers=None
) -> Response:
    h = {"Date": HTTP_DATE}
    if headers:
        h.update(headers)
    return Response(body, status_code=status, media_type=None, headers={**h, "Content-Type": ctype})


def respond_json(data: object, status: int = 200, headers=None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return respond(body, status, "application/json; charset=utf-8", headers)


def not_found(what: str = "페이지를 찾을 수 없습니다") -> Response:
    return respond(f"<!DOCTYPE html><html><body><h1>{what}</h1></body></html>", 404)


def bad_request(msg: str) -> Response:
    return respond(
        f"<!DOCTYPE html><html><body><h1>잘못된 요청입니다</h1><p>{html.escape(msg)}</p></body></html>", 400
    )


class ShortBodyResponse(Response):
    """Declares a Content-Length larger than the body it sends (the connection then closes)."""

    async def __call__(self, scope, receive, send) -> None:
        body = self.body
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"date", HTTP_DATE.encode()),
                        (b"content-length", str(len(body)).encode())],
        })  # fmt: skip
        # more_body and then nothing: the server closes the connection mid-body
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})


def int_param(value: str | None, default: int, name: str) -> int:
    """A query parameter ≥ 1 (`default` when absent); ValueError naming it otherwise."""
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: not a number") from None
    if n < 1:
        raise ValueError(f"{name}={n}: must be ≥ 1")
    return n
