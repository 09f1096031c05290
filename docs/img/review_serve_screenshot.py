"""Take docs/img/review-serve.png: `dobae review serve` on a throwaway SQLite database (the shipped
DACON sample, a few crawled pairs with the curation's flags), in Debian's headless Chromium.

    PYTHONPATH=. .venv/bin/python docs/img/review_serve_screenshot.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

OUT = Path(__file__).with_name("review-serve.png")
CRAWLED = [  # (question, answer, author, badge, adopted, likes, reasons)
    ("안방 벽지가 들떠요. 어떻게 해야 하나요?", "풀칠이 부족하거나 바탕이 습하면 들뜹니다. 주사기로 풀을 넣고 눌러 주세요. 문의는 010-1234-5678 로 주세요.",
     "도배장인", "expert", True, 12, ["contact_details", "+adopted", "+expert"]),
    ("욕실 천장에 곰팡이가 계속 생겨요", "환기가 안 되면 다시 생깁니다.", "user_7f3a", None, False, 2, ["too_short"]),
    ("석고보드 이음매에 금이 갔어요", "저희 업체에 맡기시면 최저가로 해드립니다! 카톡 주세요", "user_91bc", None, False, 0,
     ["advertising", "not_an_answer"]),
    ("베란다 결로 때문에 벽지가 젖어요", "단열이 부족하면 결로가 생깁니다. 단열 보강 후 방습 벽지를 쓰세요.", "user_0d2e", None,
     False, 5, ["off_domain"]),
]  # fmt: skip


def seed(url: str) -> None:
    from db.dacon import import_sample
    from db.migrate import upgrade
    from db.models import Answer, Origin, QAPair, Question, Source
    from db.review import set_review
    from db.session import session_scope

    upgrade(url)
    import_sample(url=url)
    with session_scope(url) as s:
        src = Source(name="ohouse", kind="site", base_url="http://127.0.0.1:8800")
        s.add(src)
        s.flush()
        for i, (q_text, a_text, author, badge, adopted, likes, reasons) in enumerate(CRAWLED):
            q = Question(source_id=src.id, external_id=f"10{i:02d}", url=f"http://127.0.0.1:8800/questions/10{i:02d}",
                         title=q_text, body=q_text + " 사진 첨부합니다.", author_pseudonym=f"user_q{i}")  # fmt: skip
            s.add(q)
            s.flush()
            a = Answer(source_id=src.id, question_id=q.id, external_id=f"c{i}", body=a_text, author_pseudonym=author,
                       author_badge=badge, is_adopted=adopted, like_count=likes)  # fmt: skip
            s.add(a)
            s.flush()
            p = QAPair(key=f"crawl:{i}", question_text=q_text, answer_text=a_text, category="마감하자",
                       origin=Origin.crawl, group_id=f"crawl:{i}", question_id=q.id, answer_id=a.id)  # fmt: skip
            s.add(p)
            s.flush()
            set_review(s, p.id, "needs_review", reasons, actor="machine:curate")


def main() -> None:
    from playwright.sync_api import sync_playwright

    from dobae.review_app.app import create_app
    from dobae.review_app.serve import serving

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/dobae.db"
        seed(url)
        with serving(create_app(url, "kim")) as base, sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(base + "/?origin=crawl")
            page.screenshot(path=str(OUT))
            browser.close()
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
