"""`scrapy crawl ohouse` against the sandbox in the markup of each era of the real site
(`Site(era=…)`, `dobae sandbox serve --era 2019|2021|2024 [--no-json]`), with and without JSON:
the database equals the era's golden JSONL on SQLite and PostgreSQL — every question and every
comment the era's pages show; where a page states more comments than it shows and no comment JSON
answers, the question is stored with what it has and marked `comments_incomplete`.
"""

from __future__ import annotations

from backends import one_backend_each
from crawl_helpers import assert_golden, run_scrapy

from crawler.sandbox import Site, serve_sandbox
from crawler.sandbox.golden import deleted_ids, era_file, load_golden
from db.models import CrawlRun
from db.session import session_scope

ERA_RUNS = [("2019", True), ("2019", False), ("2021", True), ("2021", False), ("2024", True), ("2024", False)]


def crawl_stats(db_url: str) -> dict:
    with session_scope(db_url) as s:
        run = s.query(CrawlRun).order_by(CrawlRun.id.desc()).first()
        assert run.status.value == "finished"
        return run.stats


def statuses(site: Site) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for _t, _m, path, status in site.request_log:
        out.setdefault(path, []).append(status)
    return out


# each era's crawl on one database (SQLite and PostgreSQL in turn): the subject is the markup
@one_backend_each("era,json", ERA_RUNS, ids=[f"{e}-{'json' if j else 'nojson'}" for e, j in ERA_RUNS])
def test_era_crawl_equals_the_era_golden_rows(db_url, era, json):
    site = Site(era=era, json=json, slow_s=0.2, log_requests=True)
    with serve_sandbox(site=site) as base:
        run_scrapy("ohouse", base, db_url)
    golden = load_golden(era_file(era, json))
    assert len(golden) == 62
    assert_golden(db_url, base, golden, deleted_ids())
    stats = crawl_stats(db_url)
    seen = statuses(site)
    incomplete = [g["external_id"] for g in golden if g["comments_incomplete"]]
    assert stats.get("ohouse/comments_incomplete", 0) == len(incomplete)
    assert (len(incomplete) > 0) == (not json)  # only a JSON-less era loses comments
    # the notices pinned on every list page are never followed
    assert not [p for p in seen if "2378" in p or "2379" in p or "2380" in p]
    assert not [p for p in seen if p.startswith("/users/")]  # sign-in links of the logged-out variant
    parsed = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("ohouse/parsed/")}
    assert sum(parsed.values()) == 62, parsed
    if not json:
        assert set(parsed) == {"html"}, parsed
        # every JSON endpoint answered 404 and nothing was taken for deleted because of it
        assert all(s == [404] * len(s) for p, s in seen.items() if ".json" in p), seen
        for qid in incomplete:
            assert seen[f"/questions/{qid}/comments.json?page=1&per=10"] == [404]
    elif era != "2019":
        assert parsed.get("embedded", 0) >= 61, parsed  # 1019's props are cut short: its HTML
    if era == "2021" and not json:  # `<button>` paginator: page=N upwards until a page without cards
        lists = [p for p in seen if p.startswith("/questions?page=")]
        assert {f"/questions?page={n}" for n in range(1, 6)} <= set(lists), lists
        assert "/questions?page=6" not in seen
    if era == "2019" and not json:  # `nav.paginator[data-total]` of `<li data-page>`: to the stated total
        lists = sorted(p for p in seen if p.startswith("/questions?page="))
        assert lists == [f"/questions?page={n}" for n in range(1, 5)], lists
    if era == "2024":  # /questions moved to /community/posts; walked there until an empty page
        assert "/community/posts?page=5" in seen and "/community/posts?page=6" not in seen
        assert seen["/community/posts/qna-1014"] == [404]  # hard-deleted: the page itself 404s


def test_partial_comments_are_stored_and_completed_by_a_later_crawl_with_json(db_url):
    """2021 without JSON: 1023 shows 10 of its 12 comments → stored with 10, `comments_incomplete`;
    a crawl of the same site once its JSON is back stores all 12 and clears the mark."""
    with serve_sandbox(site=Site(era="2021", json=False, late_post=False, slow_s=0.0)) as base:
        run_scrapy("ohouse", base, db_url, "-a", "query=견적")
    from crawl_helpers import db_questions

    rows = db_questions(db_url)
    q = rows["1023"]["q"]
    assert q.comments_incomplete and q.comment_count == 12 and len(rows["1023"]["answers"]) == 10
    from dobae.status import collect

    [q] = collect(db_url).questions  # `dobae status` shows it
    assert (q.source, q.split, q.comments_incomplete) == ("ohouse", "crawled", 1) and q.count >= 2
    with serve_sandbox(site=Site(era="2021", json=True, late_post=False, slow_s=0.0)) as base:
        run_scrapy("ohouse", base, db_url, "-a", "query=견적")
    rows = db_questions(db_url)
    q = rows["1023"]["q"]
    assert not q.comments_incomplete and len(rows["1023"]["answers"]) == 12


# 2024 after a redesign: all but the category and a withdrawn author (plain spans; so the pairs'
# category too)
REDESIGN_FIELDS = {"url", "title", "body", "keywords", "posted_at", "view_count", "comment_count", "scrap_count",
                   "comments_incomplete", "answers"}  # fmt: skip


@one_backend_each("era", [("2019",), ("2021",), ("2024",)], ids=["2019", "2021", "2024"])
def test_redesigned_era_crawl_goes_through_the_fallback_and_says_so(db_url, era):
    """`--redesign`: every class, id and data-* name renamed; `scrapy crawl` still stores the era's
    golden rows (2024: but for the category and a withdrawn author, plain spans) through the
    structural fallback, and its log ends with how many pages needed it."""
    site = Site(era=era, json=False, slow_s=0.2, redesign=7)
    with serve_sandbox(site=site) as base:
        proc = run_scrapy("ohouse", base, db_url)
    fields = REDESIGN_FIELDS if era == "2024" else None
    assert_golden(db_url, base, load_golden(era_file(era, False)), deleted_ids(), fields=fields)
    stats = crawl_stats(db_url)
    assert stats["ohouse/parsed/generic"] == 62 and "ohouse/parsed/html" not in stats
    n = stats["ohouse/fallback_pages"]
    assert n == 62 + stats["ohouse/list_parsed/generic"]
    assert f"{n} pages parsed by the structural fallback: the selectors may be out of date" in proc.stderr


def test_dobae_crawl_run_says_how_many_pages_needed_the_fallback(sqlite_url):
    import subprocess
    import sys

    from crawl_helpers import ROOT, env_for

    with serve_sandbox(site=Site(era="2021", json=False, slow_s=0.0, late_post=False, redesign=3)) as base:
        proc = subprocess.run(
            [sys.executable, "-m", "crawler", "crawl", "run", "ohouse", "--base-url", base, "--no-throttle",
             "--query", "곰팡이", "--set", "LOG_LEVEL=WARNING"],
            capture_output=True, text=True, timeout=120, env=env_for(sqlite_url), cwd=ROOT,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = crawl_stats(sqlite_url)
    n = stats["ohouse/fallback_pages"]
    assert n == stats["ohouse/parsed/generic"] + stats["ohouse/list_parsed/generic"] >= 6
    line = f"{n} pages parsed by the structural fallback: the selectors may be out of date (dobae crawl probe"
    assert line in proc.stdout  # after the summary table, on one line
