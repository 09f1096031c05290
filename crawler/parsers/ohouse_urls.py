"""오늘의집's URLs: which kind of page a URL is (`scrapy parse`, `dobae crawl probe`, the sitemap)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from crawler.normalize import parse_count

QUESTION_PATH = re.compile(r"/questions/(\d+)(?:[/?#]|$)")


def classify_url(url: str) -> tuple[str, str | None, str, int]:
    """(kind, question id, query, page) of a URL of the site: `list`, `list_json`, `question`,
    `question_json`, `comments_json` or `unknown`."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    params = dict(parse_qsl(parts.query))
    query, page = params.get("query", ""), parse_count(params.get("page")) or 1
    if path.endswith("/questions.json"):
        return "list_json", None, query, page
    if path.endswith(("/questions", "/community/posts")):
        return "list", None, query, page
    m = re.search(r"/questions/(\d+)(\.json|/comments\.json)?$", path)
    if m:
        kind = {None: "question", ".json": "question_json", "/comments.json": "comments_json"}[m.group(2)]
        return kind, m.group(1), query, page
    m = re.search(r"/community/posts/(?:[^/]*-)?(\d+)$", path)
    if m:
        return "question", m.group(1), query, page
    return "unknown", None, query, page
