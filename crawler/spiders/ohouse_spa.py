"""`ohouse_spa`: the JavaScript-only pages, rendered by Debian's Chromium through scrapy-playwright.

The list is an empty `<div id="root">` filled by script after a delay: the spider waits for the
cards, scrolls and clicks "더보기" until no new card appears, then opens each question, waits for
it, and clicks through the comment pages (buttons without hrefs) collecting every comment. Pages
are closed in the callbacks and in the errback, or the browser would keep them open and the
crawl would hang. Example:
`scrapy crawl ohouse_spa -a base_url=http://127.0.0.1:8800 -a max_questions=20`

Playwright is imported where it is used: Scrapy imports every spider module at the start of every
crawl, and the other spiders need no browser (~0.2 s less each).
"""

from __future__ import annotations

import asyncio
import re

import scrapy
from pydantic import Field

from crawler.normalize import parse_count, parse_korean_datetime
from crawler.spiders.base import DobaeSpider, SpiderArgs

SPA_QUESTION = re.compile(r"/spa/questions/(\d+)")
NOT_FETCHED = frozenset({"image", "media", "font"})  # what the browser need not download


def skip_media(request) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: images, video and fonts are not fetched. The spider reads text
    from the DOM (an `<img>` is there with its `src` all the same); one question with hundreds of
    pictures used to hold the browser for seconds, and the site was asked for every file."""
    return request.resource_type in NOT_FETCHED


class SpaArgs(SpiderArgs):
    source: str = Field("ohouse", min_length=1, max_length=100)
    max_questions: int | None = Field(None, ge=1, description="stop after this many questions")
    max_loads: int = Field(50, ge=1, description="at most this many scroll/더보기 rounds on the list")
    wait_ms: int = Field(10_000, ge=100, description="how long to wait for script-built content")
    retries: int = Field(3, ge=0, le=10, description="reloads of a question page whose data failed to load")
    retry_wait_s: float = Field(1.0, ge=0, le=60, description="pause before such a reload")


class OhouseSpaSpider(DobaeSpider):
    name = "ohouse_spa"
    args_model = SpaArgs
    handle_httpstatus_list = [404, 410]  # a listed question that is gone: recorded as deleted
    custom_settings = {
        "DOWNLOAD_HANDLERS": {
            "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
            "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
        },
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
        "PLAYWRIGHT_ABORT_REQUEST": skip_media,
        "CONCURRENT_REQUESTS": 4,
    }

    # selectors of the script-built DOM (stable parts only)
    CARD = "[data-question-id], [class*='QuestionContainer']"
    FAILED_PAGE = "[data-failed-page]"  # the list's note for a page that did not load
    MORE = "button:has-text('더보기')"
    TITLE = "[class*='QuestionTitle'], #question-name, h1"
    LOADED_TITLE = "[class*='QuestionTitle'], #question-name"
    COMMENT = "[data-comment-id]"

    def browser_request(self, path: str, wait_for: str, callback, **kwargs) -> scrapy.Request:
        """A request rendered by Chromium: the page is kept for the callback (which closes it, as
        the errback does) and handed over once `wait_for` is on it."""
        from scrapy_playwright.page import PageMethod

        return scrapy.Request(
            self.url(path),
            callback=callback,
            errback=self.close_page,
            dont_filter=True,
            meta={
                "playwright": True,
                "playwright_include_page": True,
                "playwright_page_methods": [
                    PageMethod("wait_for_selector", wait_for, timeout=self.args.wait_ms)
                ],
            },
            **kwargs,
        )

    async def start(self):
        yield self.browser_request("/spa/questions", self.CARD, self.parse_question_list)

    async def parse_question_list(self, response):
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        page = response.meta["playwright_page"]
        try:
            loaded = f"{self.CARD}, {self.FAILED_PAGE}"
            count = await page.locator(loaded).count()
            for _ in range(self.args.max_loads):
                if self.args.max_questions and count >= self.args.max_questions:
                    break
                more = page.locator(self.MORE)
                if await more.count() and await more.first.is_visible():
                    await more.first.click()
                else:
                    await page.mouse.wheel(0, 20_000)
                try:  # new cards, or the note that a page failed to load
                    await page.wait_for_function(
                        f"document.querySelectorAll({loaded!r}).length > {count}",
                        timeout=self.args.wait_ms // 4,
                    )
                except PlaywrightTimeout:  # nothing more to load
                    break
                count = await page.locator(loaded).count()
            failed = await page.locator(self.FAILED_PAGE).count()
            if failed:
                self.crawler.stats.set_value("spa/list_pages_failed", failed)
                self.logger.warning(
                    "%d list page(s) did not load: their questions are not reachable here", failed
                )
            self.crawler.stats.set_value("spa/list_cards", count - failed)
            hrefs = await self.card_links(page)
            ids = [m.group(1) for h in hrefs if (m := SPA_QUESTION.search(h))]
            if len(set(ids)) < len(ids):
                # a card twice: something was published while the list loaded and pushed it down;
                # the new question sits at the top of a freshly loaded list
                self.crawler.stats.inc_value("spa/list_reloaded")
                await page.reload()
                await page.wait_for_selector(self.CARD, timeout=self.args.wait_ms)
                hrefs += await self.card_links(page)
        finally:
            await page.close()
        seen: list[str] = []
        for href in hrefs:
            m = SPA_QUESTION.search(href)
            if m and m.group(1) not in seen:
                seen.append(m.group(1))
        if self.args.max_questions:
            seen = seen[: self.args.max_questions]
        self.crawler.stats.set_value("spa/questions_listed", len(seen))
        for qid in seen:
            yield self.question_request(qid)

    @staticmethod
    async def card_links(page) -> list[str]:
        return await page.eval_on_selector_all("a[href*='/spa/questions/']", "els => els.map(e => e.href)")

    def question_request(self, qid: str, attempt: int = 0) -> scrapy.Request:
        return self.browser_request(
            f"/spa/questions/{qid}",
            self.TITLE,
            self.parse_question,
            cb_kwargs={"qid": qid, "attempt": attempt},
        )

    async def parse_question(self, response, qid: str, attempt: int = 0):
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        page = response.meta["playwright_page"]
        if response.status in (404, 410):
            await page.close()
            self.crawler.stats.inc_value("spa/question_gone")
            yield {"kind": "question", "source": self.source_name, "external_id": qid,
                   "url": self.url(f"/questions/{qid}"), "is_deleted": True}  # fmt: skip
            return
        if not await page.locator(self.LOADED_TITLE).count():
            heading = " ".join(await page.locator("h1").all_inner_texts())
            if "삭제된 질문" not in heading:  # the page's data request failed (503, 429, 500, login)
                await page.close()
                if attempt < self.args.retries:
                    self.crawler.stats.inc_value("spa/question_reloaded")
                    await asyncio.sleep(self.args.retry_wait_s * (attempt + 1))
                    yield self.question_request(qid, attempt + 1)
                else:
                    self.crawler.stats.inc_value("spa/question_failed")
                    self.logger.error("question %s: the page never loaded its data (%r)", qid, heading)
                return
        comments: dict[str, dict] = {}
        try:
            now = self.reference_time(response)
            # the question is on the page; its comments come with a further request: wait for quiet
            await page.wait_for_load_state("networkidle", timeout=self.args.wait_ms)
            while True:
                sel = scrapy.Selector(text=await page.content())
                for node in sel.css(self.COMMENT):
                    c = self.comment_from_dom(node, now)
                    comments.setdefault(c["external_id"], c)
                nxt = page.locator("button[data-comment-page].next, button:has-text('다음')")
                if not await nxt.count() or not await nxt.first.is_enabled():
                    break
                before = await page.locator(self.COMMENT).first.get_attribute("data-comment-id")
                await nxt.first.click()
                await page.wait_for_function(
                    "b => { const e = document.querySelector('[data-comment-id]');"
                    " return e && e.getAttribute('data-comment-id') !== b; }",
                    arg=before,
                    timeout=self.args.wait_ms,
                )
                await page.wait_for_load_state("networkidle", timeout=self.args.wait_ms)
            sel = scrapy.Selector(text=await page.content())
        except PlaywrightTimeout as exc:  # comments that never came: not stored half-read
            if attempt < self.args.retries:
                self.crawler.stats.inc_value("spa/question_reloaded")
                self.logger.warning("question %s: comments timed out, trying again (%s)", qid, exc)
                yield self.question_request(qid, attempt + 1)
            else:
                self.crawler.stats.inc_value("spa/question_failed")
                self.logger.error("question %s: comments never loaded (%s)", qid, exc)
            return
        finally:
            await page.close()
        title = " ".join(t.strip() for t in sel.css(self.TITLE).css("::text").getall() if t.strip())
        if "삭제된 질문" in title:
            yield {"kind": "question", "source": self.source_name, "external_id": qid,
                   "url": self.url(f"/questions/{qid}"), "is_deleted": True}  # fmt: skip
            return
        time_el = sel.css("time")
        yield {
            "kind": "question",
            "source": self.source_name,
            "external_id": qid,
            "url": self.url(f"/questions/{qid}"),
            "title": title,
            "body": sel.css("[class*='QuestionBody'], [class*='question__content__body']").get(),
            "category": sel.css("[class*='Category'] ::text").get(),
            "keywords": sel.css("[class*='Keyword'] a::text, [class*='keyword-item']::text").getall(),
            "author_id": sel.css("[class*='QuestionAuthor']::attr(data-writer-id)").get() or None,
            "author_name": sel.css(
                "[class*='QuestionAuthor'] ::text, [class*='question__author'] ::text"
            ).get(),
            "posted_at": parse_korean_datetime(time_el.attrib.get("datetime") if time_el else None, now),
            "view_count": parse_count(sel.css("[class*='ViewCount'] ::text").get()),
            "comment_count": len(comments),
            "comments": list(comments.values()),
        }

    @staticmethod
    def comment_from_dom(node, now) -> dict:
        t = node.css("time")
        deleted = "삭제된 댓글" in " ".join(node.css("::text").getall())
        return {
            "external_id": node.attrib["data-comment-id"],
            "parent_external_id": node.attrib.get("data-parent-id") or None,
            "body": None if deleted else node.css("[class*='content'], [class*='Body']").get(),
            "author_id": node.attrib.get("data-writer-id") or None,
            "author_name": node.css("[class*='author'] ::text, [class*='Author'] ::text").get(),
            "author_badge": node.attrib.get("data-badge") or None,
            "is_adopted": node.attrib.get("data-adopted") in ("true", "1"),
            "like_count": node.css("[class*='likes'] ::text, [class*='Like'] ::text").get(),
            "posted_at": parse_korean_datetime(t.attrib.get("datetime") if t else None, now),
            "is_deleted": deleted,
        }

    async def close_page(self, failure):
        """Close the page of a failed request; a question page that timed out is tried again."""
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        request = failure.request
        page = request.meta.get("playwright_page")
        if page is not None:
            await page.close()
        qid, attempt = request.cb_kwargs.get("qid"), request.cb_kwargs.get("attempt", 0)
        if qid is not None and isinstance(failure.value, PlaywrightTimeout) and attempt < self.args.retries:
            self.crawler.stats.inc_value("spa/question_reloaded")
            self.logger.warning("question %s: timed out, trying again (%s)", qid, failure.value)
            return self.question_request(qid, attempt + 1)
        self.crawler.stats.inc_value("spa/failed")
        self.logger.error("browser page failed %s: %s", request.url, failure.value)
        return None
