"""`dobae review serve` in real Chromium (Debian's /usr/bin/chromium, no network): filter by a
reason, approve with the keyboard, edit an answer, bulk-approve a filtered set, two people on one
pair (the second sees the conflict, nothing lost), crawled HTML shown as text. Every change is read
back from `review_events`. SQLite and PostgreSQL; one browser per module, the app in a thread."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_helpers import events, pair_state

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: apt-get install -y chromium (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def site(db_url, queue_db):
    from dobae.review_app.app import create_app
    from dobae.review_app.serve import serving

    with serving(create_app(db_url, "tester")) as base:
        yield base


def _page(browser, errors: list[str], reviewer: str | None = None):
    context = browser.new_context()
    if reviewer:
        context.add_init_script(f"localStorage.setItem('dobae-reviewer', {reviewer!r})")
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page


def test_filter_approve_with_keyboard_and_edit(browser, site, db_url, queue_db):
    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(site + "/")
    assert page.locator("#count").inner_text() == "6"  # every needs_review pair
    assert page.locator("#reasons a[data-reason=too_short] b").inner_text() == "3"
    page.click("#reasons a[data-reason=near_duplicate]")
    page.wait_for_url("**reason=near_duplicate**")
    assert page.locator("#count").inner_text() == "1"
    gen = queue_db["generated"]
    assert page.locator("#card").get_attribute("data-id") == str(gen)
    assert "풀이 부족하면 들뜹니다." in page.locator("#parent").inner_text()  # the parent pair
    assert "paraphrase" in page.locator("#generation").inner_text()

    page.keyboard.press("a")  # approve, then on to the next pair of the filter (none left)
    page.wait_for_selector("#card-empty")
    assert pair_state(db_url, gen)[:2] == ("approved", "tester")
    assert events(db_url, gen)[-1] == ("tester", "approved", ["status"])

    short = queue_db["short0"]
    page.goto(f"{site}/?pair={short}")
    page.keyboard.press("e")
    page.fill("#edit-answer", "네, 짧지만 맞는 답입니다.")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("document.querySelector('#answer').textContent.includes('맞는 답')")
    assert pair_state(db_url, short)[2] == "네, 짧지만 맞는 답입니다."
    assert events(db_url, short)[-1] == ("tester", "needs_review", ["answer_text", "text_sha256"])
    page.keyboard.press("a")  # the edited text, approved
    page.wait_for_url(lambda u: f"pair={short}" not in u)
    assert pair_state(db_url, short)[0] == "approved"

    s1, s2 = queue_db["short1"], queue_db["short2"]
    page.goto(f"{site}/?reason=too_short")  # j / k move through the filtered queue
    assert page.locator("#card").get_attribute("data-id") == str(s1)
    page.keyboard.press("j")
    page.wait_for_url(f"**pair={s2}")
    page.keyboard.press("k")
    page.wait_for_url(f"**pair={s1}")
    page.keyboard.press("n")  # needs review, with a note
    page.keyboard.type("출처를 확인할 것")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: f"pair={s1}" not in u)
    assert pair_state(db_url, s1) == ("needs_review", "tester", "네.", "출처를 확인할 것")
    assert events(db_url, s1)[-1] == ("tester", "needs_review", ["note"])
    assert errors == []


def test_bulk_approve_a_filtered_set(browser, site, db_url, queue_db):
    errors: list[str] = []
    page = _page(browser, errors, reviewer="kim")
    page.goto(site + "/?reason=too_short")
    assert page.locator("#count").inner_text() == "3"
    assert page.locator("#bulk").inner_text() == "approve all 3…"
    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.click("#bulk")
    page.wait_for_selector("#card-empty")  # reloaded: nothing left with that reason
    assert asked == ["Approve all 3 pairs of this filter?"]
    for i in range(3):
        pid = queue_db[f"short{i}"]
        assert pair_state(db_url, pid)[:2] == ("approved", "kim")
        assert events(db_url, pid)[-1][:2] == ("kim", "approved")
    others = [queue_db[n] for n in ("crawled", "generated", "grounded")]
    assert [pair_state(db_url, p)[0] for p in others] == ["needs_review"] * 3
    assert page.locator("#reviewed-today").inner_text() == "3"  # progress: reviewed today
    assert errors == []


def test_two_people_on_one_pair_the_second_sees_the_conflict(browser, site, db_url, queue_db):
    errors: list[str] = []
    ana, ben = _page(browser, errors, "ana"), _page(browser, errors, "ben")
    pid = queue_db["generated"]
    for p in (ana, ben):
        p.goto(f"{site}/?pair={pid}")
    for p, text in ((ana, "ana의 답변입니다."), (ben, "ben의 답변입니다.")):
        p.keyboard.press("e")
        p.fill("#edit-answer", text)
    ana.keyboard.press("Control+Enter")
    ana.wait_for_function("document.querySelector('#answer').textContent.includes('ana의')")
    ben.keyboard.press("Control+Enter")
    ben.wait_for_selector("#conflict:not([hidden])")
    assert ben.locator("#conflict-by").inner_text() == "ana"
    assert ben.locator("#conflict-answer").inner_text() == "ana의 답변입니다."
    assert ben.locator("#edit-answer").input_value() == "ben의 답변입니다."  # ben's edit is kept
    assert pair_state(db_url, pid)[2] == "ana의 답변입니다."
    assert [e[0] for e in events(db_url, pid)] == ["machine:augment", "ana"]

    # a pair with no review yet: ana's first verdict, then ben's stale one
    fresh = queue_db["fresh"]
    for p in (ana, ben):
        p.goto(f"{site}/?status=pending&pair={fresh}")
    ana.keyboard.press("a")
    ana.wait_for_url(lambda u: f"pair={fresh}" not in u)
    ben.keyboard.press("r")
    ben.wait_for_selector("#conflict:not([hidden])")
    assert ben.locator("#conflict-by").inner_text() == "ana"
    assert ben.locator("#conflict-status").inner_text() == "approved"
    assert pair_state(db_url, fresh)[:2] == ("approved", "ana")
    assert events(db_url, fresh) == [("ana", "approved", ["status", "text_sha256"])]
    assert [e for e in errors if "409 (Conflict)" not in e] == []  # the browser logs each 409 it got


def test_crawled_html_is_shown_as_text(browser, site, db_url, queue_db):
    from sqlalchemy import update

    from db.models import Question
    from db.session import session_scope

    errors: list[str] = []
    page = _page(browser, errors)
    page.goto(f"{site}/?pair={queue_db['crawled']}")
    body = page.locator("#page-body")
    assert "<script>window.__pwned = 1</script><b>굵게</b>" in body.inner_text()
    assert page.evaluate("window.__pwned") is None  # no script ran, no onerror fired
    assert page.locator("#card b:text('굵게'), #card img").count() == 0  # no element made from the text
    assert "<img src=x" in page.locator("#answer").inner_text()
    page_text = page.locator("#page").inner_text()
    assert "user_c3d4" in page_text and "adopted" in page_text and "7 likes" in page_text
    assert "badge: expert" in page_text
    assert page.locator("#page-url a").get_attribute("href") == "http://127.0.0.1:1/questions/1001"
    with session_scope(db_url) as s:  # a page URL that is not http(s) is no link
        s.execute(update(Question).values(url="javascript:window.__pwned=3"))
    page.reload()
    assert page.locator("#page-url a").count() == 0
    assert page.locator("#page-url").inner_text() == "javascript:window.__pwned=3"
    # the grounded pair: the chunk's supporting sentence highlighted, the unsupported one marked
    page.goto(f"{site}/?pair={queue_db['grounded']}")
    assert page.locator("#chunk pre mark").all_inner_texts() == ["곰팡이는 습기 때문에 생깁니다."]
    assert page.locator("#answer .unsupported").all_inner_texts() == ["달에서 온 포자 때문입니다."]
    assert errors == []
