"""A small review queue: crawled pairs (one with HTML in its texts), a generated pair with a parent,
a pair grounded on a document chunk, and three pairs flagged `too_short` for bulk approval."""

from __future__ import annotations

import pytest

HOSTILE = '<script>window.__pwned = 1</script><b>굵게</b> <img src=x onerror="window.__pwned = 2">'


@pytest.fixture
def queue_db(db_url: str) -> dict[str, int]:
    """The pairs by name -> id; every machine verdict logged through db.review."""
    from db.models import (
        Answer,
        DocChunk,
        Document,
        Generation,
        Origin,
        QAPair,
        Question,
        Source,
    )
    from db.review import set_review
    from db.session import session_scope

    ids: dict[str, int] = {}
    with session_scope(db_url) as s:
        src = Source(name="ohouse", kind="site", base_url="http://127.0.0.1:1")
        s.add(src)
        s.flush()
        q = Question(source_id=src.id, external_id="1001", url="http://127.0.0.1:1/questions/1001",
                     title="벽지 " + HOSTILE, body="본문 " + HOSTILE, author_pseudonym="user_a1b2")  # fmt: skip
        s.add(q)
        s.flush()
        a = Answer(source_id=src.id, question_id=q.id, external_id="c1", body="답변 " + HOSTILE,
                   author_pseudonym="user_c3d4", author_badge="expert", is_adopted=True, like_count=7)  # fmt: skip
        s.add(a)
        s.flush()
        parent = QAPair(key="dacon:T0:1", question_text="벽지가 들뜨는 이유는?", answer_text="풀이 부족하면 들뜹니다.",
                        category="마감하자", origin=Origin.dacon, group_id="dacon:T0")  # fmt: skip
        doc = Document(sha256="0" * 64, source="guide.md", kind="markdown", title="도배 안내서",
                       text="곰팡이는 습기 때문에 생깁니다. 환기를 자주 하세요. 벽지는 6년마다 바꿉니다.")  # fmt: skip
        s.add_all([parent, doc])
        s.flush()
        chunk = DocChunk(document_id=doc.id, seq=0, start_char=0, end_char=len(doc.text), text=doc.text)
        gen = Generation(operation="paraphrase", model="tiny-model")
        s.add_all([chunk, gen])
        s.flush()
        # fmt: off
        pairs = {
            "crawled": QAPair(key="crawl:1", question_text="벽지 " + HOSTILE, answer_text="답변 " + HOSTILE,
                              category="마감하자", origin=Origin.crawl, group_id="crawl:1", question_id=q.id,
                              answer_id=a.id),
            "generated": QAPair(key="aug:1", question_text="도배지가 뜨는 원인은 무엇인가요?",
                                answer_text="풀이 부족하면 도배지가 들뜹니다.", category="마감하자",
                                origin=Origin.augment, group_id="dacon:T0", parent_id=parent.id,
                                generation_id=gen.id),
            "grounded": QAPair(key="doc:1", question_text="곰팡이는 왜 생기나요?",
                               answer_text="곰팡이는 습기 때문에 생깁니다. 달에서 온 포자 때문입니다.",
                               category="곰팡이", origin=Origin.augment, group_id="doc:1", chunk_id=chunk.id),
            **{f"short{i}": QAPair(key=f"crawl:s{i}", question_text=f"짧은 질문 {i}?", answer_text="네.",
                                   category="기타", origin=Origin.crawl, group_id=f"crawl:s{i}")
               for i in range(3)},
            "fresh": QAPair(key="crawl:f", question_text="새 질문?", answer_text="새 답변입니다.",
                            category="기타", origin=Origin.crawl, group_id="crawl:f"),
        }
        # fmt: on
        s.add_all(pairs.values())
        s.flush()
        ids = {name: p.id for name, p in pairs.items()}
        ids["parent"] = parent.id
        set_review(s, parent.id, "approved", actor="dacon")
        set_review(s, ids["crawled"], "needs_review", ["contact_details", "+adopted"], actor="machine:curate")
        set_review(s, ids["generated"], "needs_review", ["near_duplicate"], actor="machine:augment")
        set_review(s, ids["grounded"], "needs_review", ["ungrounded"], actor="machine:augment")
        for i in range(3):
            set_review(s, ids[f"short{i}"], "needs_review", ["too_short"], actor="machine:curate")
        # "fresh" has no review row at all: its first verdict is the race case
    return ids
