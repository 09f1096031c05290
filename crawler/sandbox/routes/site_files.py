"""robots.txt, the sitemaps (an index and chunks of 1,000 questions) and the static images."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response

from crawler.sandbox.content import Question, iso
from crawler.sandbox.responses import base_url, not_found, respond, site_of
from crawler.sandbox.site import Site

SITEMAP_CHUNK = 1000
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
ROBOTS = """User-agent: *
Disallow: /users/
Disallow: /questions/new
Disallow: /*/report
Disallow: /_sandbox/
Allow: /

Sitemap: {base}/sitemap.xml
"""


async def robots(request: Request) -> Response:
    return respond(ROBOTS.format(base=base_url(request)), ctype="text/plain; charset=utf-8")


def sitemap_questions(site: Site) -> list[Question]:
    return sorted((q for q in site.questions.values() if not q.deleted), key=lambda q: q.id)


async def sitemap_index(request: Request) -> Response:
    qs = sitemap_questions(site_of(request))
    base = base_url(request)
    parts = []
    for i in range(max(1, math.ceil(len(qs) / SITEMAP_CHUNK))):
        chunk = qs[i * SITEMAP_CHUNK : (i + 1) * SITEMAP_CHUNK]
        newest = max(q.lastmod for q in chunk)
        parts.append(
            f"<sitemap><loc>{base}/sitemaps/questions-{i + 1}.xml</loc><lastmod>{iso(newest)}</lastmod></sitemap>"
        )
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(parts) + "</sitemapindex>")  # fmt: skip
    return respond(body, ctype="application/xml; charset=utf-8")


async def sitemap_urls(request: Request) -> Response:
    n = request.path_params["n"]
    qs = sitemap_questions(site_of(request))
    chunk = qs[(n - 1) * SITEMAP_CHUNK : n * SITEMAP_CHUNK]
    if n < 1 or not chunk:
        return not_found()
    base = base_url(request)
    urls = "".join(
        f"<url><loc>{base}/questions/{q.id}</loc><lastmod>{iso(q.lastmod)}</lastmod></url>" for q in chunk
    )
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + urls + "</urlset>")  # fmt: skip
    return respond(body, ctype="application/xml; charset=utf-8")


async def image(request: Request) -> Response:
    return respond(GIF, ctype="image/gif")
