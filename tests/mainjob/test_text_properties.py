"""Property test (Hypothesis): arbitrary text — console-markup brackets, emoji codes, control
characters, NUL, RTL marks, very long lines — stored through every path that stores text
(`dobae import dacon`, a crawl's pipelines, `dobae review import` with its reasons, note and
reviewer name, `dobae docs add`), then every read command (`status`, `review status`, `docs list`,
`crawl runs`, `augment status`, `export`, `report`, `evaluate`): nothing raises, and nothing is
lost — what was stored comes back whole in the export (question and answer with contact details
masked, as `dobae export` documents), and each path keeps the text as its documented cleaning
leaves it (or refuses it in one line: a NUL byte in a CSV file is binary data).

The examples share one database per backend (keys differ per example), so the read commands also
see everything earlier examples stored. `DOBAE_PROPERTY_EXAMPLES` (default 1, plus the explicit
example; each example stores 1-2 texts) sets the count: ≈ 10 s an example on a shared 2-core machine.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from db.contact import mask_contacts
from db.models import Answer, Document, QAPair, Question, Review
from db.session import session_scope
from db.tabular import clean

PROPS = settings(
    max_examples=int(os.environ.get("DOBAE_PROPERTY_EXAMPLES", "1")),
    deadline=None,
    print_blob=True,  # a failure prints the @reproduce_failure line that replays it
    phases=[Phase.explicit, Phase.generate],  # no shrinking: an example costs seconds; it is printed whole
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HANGUL = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
MARKUP = st.sampled_from(
    ["[/x]", "[bold]", "[/]", "[link=http://x]", "[red", "]", "\\[", "\\", ":smile:", "[/bold]"]
)
CONTROL = st.sampled_from(
    ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b[31m", "\x7f", "\x85", "\x9b"]
)
MARKS = st.sampled_from(["\u200e", "\u200f", "\u202e", "\u2067", "\u200b", "\ufeff", "\u0301"])
LONG = st.integers(1, 1500).map(lambda n: "가" * n)
ANY = st.characters(blacklist_categories=("Cs",))
CHUNK = st.one_of(HANGUL, MARKUP, CONTROL, MARKS, ANY, LONG)
TEXT = st.lists(CHUNK, min_size=1, max_size=12).map("".join)
HOSTILE = "[/x] [bold]굵게 \x00\x1b[31m \u202e :smile: " + "가" * 300
_n = itertools.count()
_seeded: dict[str, bool] = {}


def _pipelines(db_url):
    import scrapy
    from scrapy.utils.test import get_crawler

    from crawler.pipelines import DatabasePipeline, NormalizePipeline, ValidationPipeline

    class Spider(scrapy.Spider):
        name = source_name = "prop_board"

    crawler = get_crawler(
        Spider, {"DOBAE_DATABASE_URL": db_url, "ADDONS": {"crawler.addon.DobaeSettings": 0}}
    )
    crawler.spider = crawler._create_spider()
    stages = [ValidationPipeline.from_crawler(crawler), NormalizePipeline.from_crawler(crawler)]
    stages.append(DatabasePipeline.from_crawler(crawler))
    stages[2].open_spider(crawler.spider)
    return crawler, stages


def _crawl(db_url, n: int, text: str) -> None:
    """One crawled question with one answer, through the real pipelines (validate → normalise → store)."""
    crawler, stages = _pipelines(db_url)
    item = {"source": "prop_board", "external_id": f"q{n}", "url": f"http://127.0.0.1:1/questions/{n}",
            "title": f"벽지 {text}", "body": f"<p>질문 {text}</p>", "author_id": "u1", "author_name": text,
            "comments": [{"external_id": f"c{n}", "body": f"답변입니다 {text}", "author_id": "u2",
                          "author_name": text}]}  # fmt: skip
    x = item
    for stage in stages:
        x = stage.process_item(x)
        if asyncio.iscoroutine(x):
            x = asyncio.run(x)
    crawler.stats.set_value("finish_reason", "finished")
    crawler.stats.inc_value("dobae/pages_ok")
    stages[2].close_spider(crawler.spider)
    stages[2].spider_closed(crawler.spider, "finished")


def _export(cli, tmp_path, n) -> dict[str, dict]:
    path = tmp_path / f"all-{n}.jsonl"
    code, out, err = cli("export", "--status", "all", "--format", "jsonl", "--out", str(path), "--force")
    assert code == 0, err
    lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines(): U+2028, \x85 sit inside texts
    return {r["key"]: r for r in map(json.loads, filter(None, lines))}


@pytest.fixture(scope="module")
def muse_ready():
    """Load the scorer's embedder once (evaluate's CV uses it)."""
    from qa.embedders import load_embedder

    load_embedder("muse3")


def _store(text: str, n: int, db_url, tmp_path, cli) -> dict:
    """Store `text` through every path; returns what each path was given (and whether it accepted)."""
    # 1. DACON import: the text in every text column (a NUL byte makes the file binary: one line)
    train = tmp_path / f"train-{n}.csv"
    cells = [
        f"P{n}",
        f"벽지 {text}?",
        f"도배 {text}?",
        f"분류 {text}"[:100],
        *[f"답 {j} {text}" for j in range(5)],
    ]
    with train.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "질문_1", "질문_2", "category", *[f"답변_{j}" for j in range(1, 6)]])
        w.writerow(cells)
    code, out, err = cli("import", "dacon", str(train))
    if code:
        assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert "\x00" in text and "NUL byte" in err  # the only refusal this text can earn

    # 2. a crawl's pipelines
    _crawl(db_url, n, text)

    # 3. review import: reasons, note and reviewer name
    key = f"crawl:prop_board:c{n}"
    rows = _export(cli, tmp_path, f"{n}-before")
    assert key in rows, "the crawled answer was not stored"
    edited = {**rows[key], "status": "needs_review", "reasons": [f"이유 {text}"], "note": f"메모 {text}"}
    review = tmp_path / f"review-{n}.jsonl"
    review.write_text(json.dumps(edited, ensure_ascii=False) + "\n", encoding="utf-8")
    reviewer = f"검토자 {text}".replace("\x00", "")[:90]  # argv cannot hold NUL; longer than 100: refused
    rcode, out, err = cli("review", "import", str(review), "--reviewer", reviewer)
    assert rcode == 0 or (rcode == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1), err

    # 4. docs add
    doc = tmp_path / f"doc-{n}.txt"
    doc.write_text(f"제목 {text}\n\n도배지 들뜸은 풀칠이 부족할 때 생깁니다. {text} 끝.", encoding="utf-8")
    dcode, out, err = cli("docs", "add", str(doc))
    assert dcode == 0, err
    return {
        "n": n,
        "cells": cells,
        "imported": code == 0,
        "key": key,
        "reviewed": rcode == 0,
        "doc": str(doc),
    }


@PROPS
@example(texts=[HOSTILE])
@given(texts=st.lists(TEXT, min_size=1, max_size=2))
def test_any_text_is_stored_whole_and_every_read_command_shows_it(
    texts, db_url, tmp_path, cli, muse_ready, monkeypatch
):
    import foundation.console
    from augment.doc_reading import clean_text
    from db.dacon import pair_key

    monkeypatch.setattr(foundation.console.out, "width", 160)
    if not _seeded.get(str(tmp_path)):  # a few plain rows, so evaluate has folds to make
        base = tmp_path / "base.csv"
        with base.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "질문_1", "질문_2", "category", *[f"답변_{j}" for j in range(1, 6)]])
            for i in range(4):
                w.writerow(
                    [
                        f"BASE_{i}",
                        f"벽지 질문 {i}",
                        f"도배 질문 {i}",
                        "마감",
                        *[f"답변 {i}-{j}" for j in range(5)],
                    ]
                )
        assert cli("import", "dacon", str(base))[0] == 0
        _seeded[str(tmp_path)] = True
    stored = [_store(text, next(_n), db_url, tmp_path, cli) for text in texts]

    # every read command: exit 0, no traceback
    reads = [("status",), ("review", "status"), ("docs", "list"), ("crawl", "runs"), ("augment", "status"),
             ("report", "--out", str(tmp_path / "r.html"), "--embedder", "none", "--force"),
             ("evaluate", "--answerer", "constant", "--folds", "2", "--embedder", "muse3", "--no-store")]  # fmt: skip
    for args in reads:
        code, out, err = cli(*args)
        assert code == 0 and "Traceback" not in err, (args, err[-2000:])

    # nothing lost: the export has every stored text whole, as each path documents it
    rows = _export(cli, tmp_path, "after")
    with session_scope(db_url) as s:
        for st_ in stored:
            n, key, cells = st_["n"], st_["key"], st_["cells"]
            if st_["imported"]:
                pair = s.scalars(select(QAPair).where(QAPair.key == pair_key("dacon", f"P{n}", 1, 1))).one()
                assert (pair.question_text, pair.answer_text) == (clean(cells[1]), clean(cells[4]))
                exported = (rows[pair.key]["question"], rows[pair.key]["answer"])
                assert exported == (mask_contacts(pair.question_text), mask_contacts(pair.answer_text))
            assert s.scalars(select(Question).where(Question.external_id == f"q{n}")).one().title
            assert s.scalars(select(Answer).where(Answer.external_id == f"c{n}")).one().body
            crawled = s.scalars(select(QAPair).where(QAPair.key == key)).one()
            assert rows[key]["answer"] == mask_contacts(crawled.answer_text)
            if st_["reviewed"]:
                r = s.scalars(select(Review).join(QAPair).where(QAPair.key == key)).one()
                assert (rows[key]["reasons"], rows[key]["note"]) == (r.reasons, r.note)
            d = s.scalars(select(Document).where(Document.source == st_["doc"])).one()
            assert d.text == clean_text(d.text) and "\x00" not in d.text
            assert "풀칠이 부족할 때 생깁니다." in d.text
