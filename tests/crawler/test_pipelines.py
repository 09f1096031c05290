"""The item pipelines on a real Crawler against SQLite and PostgreSQL (db_url runs both)."""

from __future__ import annotations

import asyncio

import pytest
import scrapy
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from crawler.pipelines import DatabasePipeline, NormalizePipeline, ValidationPipeline, pseudonym
from db.models import Answer, CrawlRun, QAPair, Question, Review, RunStatus
from db.session import session_scope


class BoardSpider(scrapy.Spider):
    name = "board_test"
    source_name = "board_test"


def question(ext="101", **over):
    item = {
        "source": "board_test",
        "external_id": ext,
        "url": f"http://127.0.0.1:1/questions/{ext}/?affect_id=0&affect_type=QuestionIndex&query=",
        "title": "안방 벽지가 들떠요",
        "body": "<p>도배한 지 두 달 됐는데<br>모서리가 들떴어요 ㅠㅠ</p>",
        "category": "도배",
        "keywords": ["#도배", "벽지", "도배"],
        "author_id": "u7",
        "author_name": "집순이",
        "posted_at": "2019-05-14T09:30:14+09:00",
        "view_count": "조회 1,234",
        "comment_count": 2,
        "comments": [
            {
                "external_id": "c1",
                "body": "초배지 문제일 수 있어요.<br>시공사에 AS 요청하세요",
                "author_id": "u8",
                "author_name": "도배장인",
                "author_badge": "expert",
                "is_adopted": True,
                "like_count": "1.2만",
                "posted_at": "2019-05-15T10:00:00+09:00",
            },
            {
                "external_id": "c2",
                "parent_external_id": "c1",
                "body": "감사합니다!",
                "author_id": "u7",
                "author_name": "집순이",
            },
        ],
    }
    item.update(over)
    return item


ADDONS = {"ADDONS": {"crawler.addon.DobaeSettings": 0}}  # as crawler/settings.py: author salt, …


class Run:
    """One crawl's pipelines: validate → normalise → database, opened and closed like Scrapy does."""

    def __init__(self, db_url: str, **settings) -> None:
        self.crawler = get_crawler(BoardSpider, {"DOBAE_DATABASE_URL": db_url, **ADDONS, **settings})
        self.crawler.spider = self.crawler._create_spider()
        self.stages = [
            ValidationPipeline.from_crawler(self.crawler),
            NormalizePipeline.from_crawler(self.crawler),
            DatabasePipeline.from_crawler(self.crawler),
        ]
        self.stages[2].open_spider(self.crawler.spider)

    def feed(self, *items) -> int:
        dropped = 0
        for item in items:
            try:
                x = item
                for stage in self.stages:
                    x = stage.process_item(x)
                    if asyncio.iscoroutine(x):
                        x = asyncio.run(x)
            except DropItem:
                dropped += 1
        return dropped

    def close(self) -> dict:
        self.crawler.stats.set_value("finish_reason", "finished")
        self.crawler.stats.inc_value("dobae/pages_ok")  # the pages these items came from
        self.stages[2].close_spider(self.crawler.spider)
        self.stages[2].spider_closed(self.crawler.spider, "finished")  # Scrapy's signal, sent next
        return self.crawler.stats.get_stats()


def rows(db_url, model):
    with session_scope(db_url) as s:
        return s.scalars(select(model).order_by(model.id if hasattr(model, "id") else model.pair_id)).all()


def test_insert_normalises_and_creates_pending_pairs(db_url):
    run = Run(db_url)
    run.feed(question())
    stats = run.close()
    [q] = rows(db_url, Question)
    assert q.external_id == "101" and q.url == "http://127.0.0.1:1/questions/101"
    assert q.body == "도배한 지 두 달 됐는데\n모서리가 들떴어요 ㅠㅠ"
    assert q.keywords == ["도배", "벽지"] and q.view_count == 1234
    assert q.posted_at.replace(tzinfo=None).isoformat() == "2019-05-14T00:30:14"
    assert q.author_pseudonym == pseudonym("board_test", "u7", "집순이", "dobae-default-salt")
    assert "집순이" not in (q.author_pseudonym or "")
    answers = rows(db_url, Answer)
    assert [
        (a.external_id, a.parent_external_id, a.like_count, a.is_adopted, a.author_badge) for a in answers
    ] == [
        ("c1", None, 12000, True, "expert"),
        ("c2", "c1", None, False, None),
    ]
    # the asker's own reply ("감사합니다!") is not an answer; the expert's comment is
    [pair] = rows(db_url, QAPair)
    assert pair.key == "crawl:board_test:c1" and pair.origin.value == "crawl"
    assert pair.group_id == "crawl:board_test:q101" and pair.answer_text.startswith(
        "초배지 문제일 수 있어요.\n"
    )
    assert pair.question_text.startswith("안방 벽지가 들떠요\n") and pair.question_id == q.id
    [review] = rows(db_url, Review)
    assert review.pair_id == pair.id and review.status.value == "pending"
    [crawl_run] = rows(db_url, CrawlRun)
    assert crawl_run.status == RunStatus.finished and crawl_run.stats["db/questions_inserted"] == 1
    assert stats["db/qa_pairs_written"] == 1


def test_unchanged_not_rewritten_changed_updated(db_url):
    run = Run(db_url)
    run.feed(question(), question("102", title="결로 때문에 곰팡이가 생겨요"))
    run.close()
    before = {q.external_id: q for q in rows(db_url, Question)}

    run = Run(db_url)
    changed = question("102", title="결로 때문에 곰팡이가 생겨요")
    changed["comments"] = changed["comments"] + [
        {"external_id": "c9", "body": "환기를 자주 하세요", "author_id": "u9"}
    ]
    changed["comments"][0] = {**changed["comments"][0], "external_id": "c5"}
    changed["comments"][1] = {**changed["comments"][1], "external_id": "c6", "parent_external_id": "c5"}
    assert run.feed(question(), changed) == 0
    stats = run.close()
    after = {q.external_id: q for q in rows(db_url, Question)}
    assert stats["db/questions_unchanged"] == 1 and stats["db/questions_updated"] == 1
    assert after["101"].updated_at == before["101"].updated_at
    assert after["101"].crawl_run_id == before["101"].crawl_run_id  # not rewritten at all
    assert after["102"].crawl_run_id != before["102"].crawl_run_id
    assert after["102"].content_hash != before["102"].content_hash
    assert {p.key for p in rows(db_url, QAPair)} == {
        "crawl:board_test:c1", "crawl:board_test:c5", "crawl:board_test:c9",
    }  # fmt: skip
    assert len(rows(db_url, Question)) == 2


def test_invalid_items_dropped_with_counted_reason(db_url):
    run = Run(db_url)
    dropped = run.feed(
        question(title=None),
        question(external_id=""),
        question(posted_at="아무 날"),
        question(view_count=-3),
        question("103"),
    )
    stats = run.close()
    assert dropped == 4
    assert stats["drop_item/board_test/invalid_view_count"] == 1
    assert stats["drop_item/board_test/missing_title"] == 1
    assert stats["drop_item/board_test/missing_external_id"] == 1
    assert stats["drop_item/board_test/invalid_posted_at"] == 1
    assert [q.external_id for q in rows(db_url, Question)] == ["103"]


def test_deleted_question_marked_deleted_keeps_text(db_url):
    run = Run(db_url)
    run.feed(question())
    run.close()
    run = Run(db_url)
    run.feed(
        {
            "source": "board_test",
            "external_id": "101",
            "url": "http://127.0.0.1:1/questions/101",
            "is_deleted": True,
        },
        {
            "source": "board_test",
            "external_id": "404",
            "url": "http://127.0.0.1:1/questions/404",
            "is_deleted": True,
        },
    )
    stats = run.close()
    got = {q.external_id: q for q in rows(db_url, Question)}
    assert got["101"].is_deleted and got["101"].title == "안방 벽지가 들떠요"
    assert got["404"].is_deleted and got["404"].title is None
    assert stats["db/questions_deleted"] == 2


def test_batches_and_fixed_source_dedupe(db_url):
    run = Run(db_url, DOBAE_DB_BATCH_SIZE=2)
    run.feed(*(question(str(i)) for i in range(5)), question("1", view_count=None, comment_count=None))
    stats = run.close()
    assert stats["db/batches"] == 3
    assert sorted(q.external_id for q in rows(db_url, Question)) == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("pseudo", [False])
def test_pseudonymisation_can_be_disabled(db_url, pseudo):
    run = Run(db_url, DOBAE_PSEUDONYMIZE_AUTHORS=pseudo)
    run.feed(question(author_id=None, author_name="탈퇴한 사용자"), question("105"))
    run.close()
    got = {q.external_id: q.author_pseudonym for q in rows(db_url, Question)}
    assert got == {"101": None, "105": "집순이"}


# ----------------------------------------------------------------------------- a verdict holds for its text

AD = "최저가 시공 해 드립니다! 견적 문의 주세요. 010-1234-5678"


def _review_state(db_url, key="crawl:board_test:c1"):
    from db.models import ReviewEvent

    with session_scope(db_url) as s:
        pair = s.scalars(select(QAPair).where(QAPair.key == key)).one()
        review = s.get(Review, pair.id)
        events = s.scalars(select(ReviewEvent).where(ReviewEvent.pair_id == pair.id).order_by(ReviewEvent.id))
        log = [(e.actor, e.from_status, e.to_status, sorted(e.changes)) for e in events]
        return pair.answer_text, pair.version, review.status.value, review.reviewer, log


def _recrawl_with_answer(db_url, body):
    run = Run(db_url)
    item = question()
    item["comments"] = [{**item["comments"][0], "body": body}, item["comments"][1]]
    run.feed(item)
    return run.close()


def test_a_recrawl_that_changes_a_curated_answer_puts_it_back_to_pending(db_url):
    """Issue 21 item 2: curate says "clean", a recrawl turns the answer into an ad; the stale
    verdict must not approve the ad: the pair is pending again (logged), bulk approval leaves it,
    and the next curation flags the new text."""
    from augment.curation import curate_crawl
    from db.review import approve_unflagged

    run = Run(db_url)
    run.feed(question())
    run.close()
    assert curate_crawl(db_url).clean == 1
    assert _review_state(db_url)[2:4] == ("needs_review", "machine:curate")

    stats = _recrawl_with_answer(db_url, AD)
    assert stats["db/qa_pairs_reopened"] == 1
    answer, version, status, reviewer, log = _review_state(db_url)
    assert answer == AD and status == "pending" and reviewer == "machine:crawl"
    assert log[-1] == (
        "machine:crawl",
        "needs_review",
        "pending",
        ["answer_text", "note", "reasons", "status"],
    )

    summary = approve_unflagged("crawl", reviewer="kim", url=db_url)
    assert (summary.approved, summary.not_curated) == (0, 1)
    curated = curate_crawl(db_url)
    assert curated.judged == 1 and curated.clean == 0
    assert {"contact_details", "advertising"} <= set(curated.reasons)
    assert approve_unflagged("crawl", reviewer="kim", url=db_url).approved == 0


def test_a_recrawl_that_rewrites_an_approved_answer_revokes_the_approval(db_url, tmp_path):
    """After approval a recrawl rewrites the text: the pair is pending (logged), curation judges
    it again instead of counting it "already decided by a person", and the approved export is empty."""
    from augment.curation import curate_crawl
    from db.export import export_pairs
    from db.review import approve_unflagged

    run = Run(db_url)
    run.feed(question())
    run.close()
    curate_crawl(db_url)
    assert approve_unflagged("crawl", reviewer="kim", url=db_url).approved == 1
    assert export_pairs(tmp_path / "a.jsonl", url=db_url).rows == 1

    _recrawl_with_answer(db_url, AD)
    answer, _, status, _, log = _review_state(db_url)
    assert status == "pending" and log[-1][:3] == ("machine:crawl", "approved", "pending")
    assert export_pairs(tmp_path / "b.jsonl", url=db_url).rows == 0
    again = curate_crawl(db_url)
    assert (again.judged, again.kept_person) == (1, 0)

    # an unchanged recrawl changes nothing: no event, the verdict stays
    n_events = len(_review_state(db_url)[4])
    stats = _recrawl_with_answer(db_url, AD)
    assert "db/qa_pairs_reopened" not in stats and len(_review_state(db_url)[4]) == n_events
    assert _review_state(db_url)[2] == "needs_review"


def test_an_answer_too_long_for_a_pair_is_kept_but_makes_no_pair(db_url):
    """Issue 21 item 8: no pair holds a text whose export a review import could not read back
    (longer than MAX_CELL_CHARS once masked); the crawled answer itself is stored whole, and the
    run counts what made no pair."""
    from db.tabular import MAX_CELL_CHARS

    item = question()
    long_body = "초배지 문제일 수 있어요. " * (MAX_CELL_CHARS // 10)
    item["comments"] = [{**item["comments"][0], "body": long_body}, item["comments"][1]]
    run = Run(db_url)
    run.feed(
        item, question("102", comments=[{**item["comments"][0], "external_id": "c7", "body": "환기하세요"}])
    )
    stats = run.close()
    assert stats["db/qa_pairs_too_long"] == 1
    assert [p.key for p in rows(db_url, QAPair)] == ["crawl:board_test:c7"]
    assert max(len(a.body or "") for a in rows(db_url, Answer)) > MAX_CELL_CHARS
