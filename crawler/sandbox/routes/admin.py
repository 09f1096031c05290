"""`/_sandbox/…`, loopback only: edits for the incremental recrawl tests, markup churn, the state."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from crawler.sandbox.content import NOW, iso
from crawler.sandbox.responses import respond_json, site_of
from foundation.errors import ConfigError


def loopback(request: Request) -> bool:
    return request.client is None or request.client.host in ("127.0.0.1", "::1", "localhost", "testclient")


async def admin_edit(request: Request) -> Response:
    if not loopback(request):
        return respond_json({"error": "loopback only"}, 403)
    qid = request.path_params["qid"]
    try:
        q = site_of(request).edit(qid, add_comment=request.query_params.get("add_comment") in ("1", "true"))
    except ConfigError as exc:  # not a live question
        return respond_json({"error": str(exc)}, 404)
    return respond_json({"id": q.id, "revision": q.revision, "title": q.title, "lastmod": iso(q.lastmod),
                         "comment_count": len(q.comments)})  # fmt: skip


async def admin_churn(request: Request) -> Response:
    if not loopback(request):
        return respond_json({"error": "loopback only"}, 403)
    site = site_of(request)
    try:
        value = int(request.query_params.get("value", site.churn + 1))
    except ValueError:
        return respond_json({"error": "value must be an integer"}, 400)
    site.set_churn(value)
    return respond_json({"churn": site.churn})


async def admin_state(request: Request) -> Response:
    site = site_of(request)
    return respond_json({"questions": len(site.questions), "published_late_post": site.published,
                         "churn": site.churn, "hits": site.hits, "now": iso(NOW)})  # fmt: skip
