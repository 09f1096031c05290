"""The sandbox site: a local imitation of 오늘의집 질문과답변 (and two boards) with every route and
edge case the crawler must handle. See `crawler/sandbox/CONTRACT.md`.

    from crawler.sandbox import serve_sandbox
    with serve_sandbox(port=0) as base_url:
        ...
"""

from crawler.sandbox.content import NOW
from crawler.sandbox.server import SandboxServer, serve_sandbox
from crawler.sandbox.site import Site

__all__ = ["NOW", "SandboxServer", "Site", "serve_sandbox"]
