"""`ohouse_sitemap` against the sandbox's sitemap index and urlsets with `<lastmod>`: the first crawl
stores the golden rows; a second one refetches nothing stored; after an edit (new lastmod) only the
edited question is refetched, and the rows equal the golden rows of the edited site."""

from __future__ import annotations

import re

from crawl_helpers import assert_golden, db_questions, run_scrapy

from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.golden import golden_rows

NEVER_STORED = {"1012", "1015"}  # members-only (302 to sign-in), always 500: asked again each time


def detail_requests(site: Site, since: int) -> set[str]:
    return {
        m.group(1)
        for _t, _m, p, _s in site.request_log[since:]
        if (m := re.fullmatch(r"/questions/(\d+)", p))
    }


def test_incremental_recrawl_refetches_only_changed(db_url):
    site = Site(slow_s=0.3, log_requests=True)
    with serve_sandbox(site=site) as base:
        proc = run_scrapy("ohouse_sitemap", base, db_url)
        first = detail_requests(site, 0)
        assert first == {g["external_id"] for g in golden_rows(site)} | NEVER_STORED  # 1066 too
        assert "/sitemaps/questions-1.xml" in site.requested()
        # deleted questions are not in the sitemap: nothing to mark (the list crawl marks them)
        assert_golden(db_url, base, golden_rows(site))
        assert db_questions(db_url)["1001"]["q"].raw == {"lastmod": "2026-04-13T09:12:00+09:00"}
        assert "'sitemap/changed': 64" in proc.stderr

        n = len(site.request_log)
        proc = run_scrapy("ohouse_sitemap", base, db_url)  # nothing changed: nothing refetched
        assert detail_requests(site, n) == NEVER_STORED
        assert "'incremental/skipped': 62" in proc.stderr

        before = db_questions(db_url)
        edited = site.edit(1003)
        n = len(site.request_log)
        run_scrapy("ohouse_sitemap", base, db_url)
        assert detail_requests(site, n) == {"1003"} | NEVER_STORED
        assert_golden(db_url, base, golden_rows(site))
        after = db_questions(db_url)
    assert after["1003"]["q"].title == edited.title and after["1003"]["q"].raw == {
        "lastmod": "2026-05-01T12:01:00+09:00"
    }
    assert after["1001"]["q"].updated_at == before["1001"]["q"].updated_at  # untouched
