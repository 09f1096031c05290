"""`board`: a generic Q&A board spider driven by a selector config file (YAML or TOML).

A new site needs a config, not code. Shipped configs live in `crawler/boards/` (`kin` for the
지식iN-like board, `82cook` for the 82cook-like CP949 table board); pass a name or a path:

    scrapy crawl board -a base_url=http://127.0.0.1:8800 -a config=kin

A field is a CSS selector. Selectors ending in `::text`/`::attr(...)` give that value; otherwise
`body` fields keep the element's HTML (normalised later) and other fields join its text.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import scrapy
import yaml
from cssselect import HTMLTranslator
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crawler.normalize import parse_korean_datetime
from crawler.spiders.base import DobaeSpider, SpiderArgs
from foundation.errors import ConfigError

BOARDS_DIR = Path(__file__).resolve().parent.parent / "boards"


class IdRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url_param: str | None = Field(None, description="query parameter that holds the id, e.g. docId")
    regex: str | None = Field(None, description="regex on the URL whose group 1 is the id")

    @model_validator(mode="after")
    def _one(self) -> IdRule:
        if bool(self.url_param) == bool(self.regex):
            raise ValueError("give exactly one of url_param or regex")
        return self

    def extract(self, url: str) -> str | None:
        if self.url_param:
            values = parse_qs(urlsplit(url).query).get(self.url_param)
            return values[0] if values else None
        m = re.search(self.regex or "", url)
        return m.group(1) if m else None


class ListRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: str = Field(description="one element per listed question")
    link: str = Field(description="within a row: the question link, e.g. a.title::attr(href)")
    skip: str | None = Field(None, description="rows that also match this are skipped (notices)")
    next: str | None = Field(None, description="next-page link, e.g. a.next::attr(href)")


class QuestionRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: IdRule
    url: str = Field(description="canonical question URL template, e.g. /qna/detail?docId={id}")
    title: str
    body: str
    author: str | None = None
    author_link: str | None = None
    posted_at: str | None = None
    view_count: str | None = None
    category: str | None = None
    keywords: str | None = None
    deleted_text: str | None = Field(None, description="text on the page of a deleted question")


class AnswerRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    each: str = Field(description="one element per answer")
    id: str = Field(description="within an answer: its id, e.g. ::attr(data-answer-id)")
    body: str
    author: str | None = None
    author_link: str | None = None
    badge: str | None = None
    adopted: str | None = Field(None, description="present in an adopted answer")
    posted_at: str | None = None
    like_count: str | None = None
    deleted_text: str | None = None


class BoardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=100)
    start: list[str] = Field(min_length=1, description="list page paths relative to base_url")
    encoding: str | None = Field(None, description="used when a page declares no charset (e.g. cp949)")
    max_pages: int = Field(50, ge=1)
    list: ListRules
    question: QuestionRules
    answers: AnswerRules | None = None


def load_board_config(name_or_path: str) -> BoardConfig:
    """A shipped config by name (`kin`, `82cook`) or a YAML/TOML file; errors name the file."""
    path = Path(name_or_path)
    if not path.suffix:
        candidates = [BOARDS_DIR / f"{name_or_path}.{ext}" for ext in ("yaml", "yml", "toml")]
        path = next((p for p in candidates if p.exists()), candidates[0])
    if not path.exists():
        shipped = ", ".join(sorted(p.stem for p in BOARDS_DIR.glob("*.*")))
        raise ConfigError(f"board config {name_or_path!r} not found: pass a file or one of: {shipped}")
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        return BoardConfig.model_validate(data)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{path}: {where}: {err['msg']}") from None


class BoardArgs(SpiderArgs):
    config: str = Field(description="shipped config name (kin, 82cook) or a YAML/TOML file")


def _value(sel, rule: str | None, html: bool = False) -> str | None:
    if not rule:
        return None
    if "::" in rule:
        parts = [p.strip() for p in sel.css(rule).getall()]
        text = " ".join(p for p in parts if p)
        return text or None
    if html:
        return sel.css(rule).get()
    parts = [p.strip() for p in sel.css(rule).css("::text").getall()]
    return " ".join(p for p in parts if p) or None


class BoardSpider(DobaeSpider):
    name = "board"
    args_model = BoardArgs
    handle_httpstatus_list = [404, 410]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = load_board_config(self.args.config)
        self.source_name = self.config.source
        self.run_args["source"] = self.config.source

    @classmethod
    def check_args(cls, kwargs: dict[str, Any]) -> None:
        super().check_args(kwargs)
        load_board_config(kwargs["config"])

    async def start(self):
        for path in self.config.start:
            yield scrapy.Request(
                self.url(path), callback=self.parse_list, cb_kwargs={"page": 1}, dont_filter=True
            )

    def decoded(self, response):
        """Pages that declare no charset are decoded with the config's encoding (CP949 boards)."""
        if self.config.encoding and b"charset" not in (response.headers.get(b"Content-Type") or b"").lower():
            if not re.search(rb"<meta[^>]+charset", response.body[:2048], re.I):
                return response.replace(encoding=self.config.encoding)
        return response

    def parse_list(self, response, page: int):
        response = self.decoded(response)
        rules = self.config.list
        for row in response.css(rules.rows):
            if rules.skip and (row.css(rules.skip) or _matches(row, rules.skip)):
                self.crawler.stats.inc_value("board/notice_skipped")
                continue
            href = row.css(rules.link).get()
            if not href:
                continue
            url = urljoin(response.url, href)
            qid = self.config.question.id.extract(url)
            if not qid or qid in self.seen:
                continue
            self.seen.add(qid)
            yield scrapy.Request(
                url,
                callback=self.parse_question,
                cb_kwargs={"qid": qid},
                dont_filter=True,
                errback=self.failed,
            )
        if rules.next and page < self.config.max_pages:
            nxt = response.css(rules.next).get()
            if nxt:
                yield scrapy.Request(
                    urljoin(response.url, nxt),
                    callback=self.parse_list,
                    cb_kwargs={"page": page + 1},
                    dont_filter=True,
                )

    def parse_question(self, response, qid: str):
        response = self.decoded(response)
        q = self.config.question
        url = self.url(q.url.format(id=qid))
        page_text = " ".join(response.css("body ::text").getall()[:400])
        if response.status in (404, 410) or (q.deleted_text and q.deleted_text in page_text):
            yield {
                "kind": "question",
                "source": self.source_name,
                "external_id": qid,
                "url": url,
                "is_deleted": True,
            }
            return
        now = self.reference_time(response)
        author_link = _value(response, q.author_link) or ""
        answers = []
        if self.config.answers:
            a = self.config.answers
            for node in response.css(a.each):
                aid = _value(node, a.id)
                if not aid:
                    continue
                body = _value(node, a.body, html=True)
                text = " ".join(node.css("::text").getall())
                deleted = bool(a.deleted_text and a.deleted_text in text)
                link = _value(node, a.author_link) or ""
                answers.append(
                    {
                        "external_id": f"{qid}:{aid}",  # boards number answers per post
                        "body": None if deleted else body,
                        "author_id": _user_id(link),
                        "author_name": _value(node, a.author),
                        "author_badge": _value(node, a.badge),
                        "is_adopted": bool(a.adopted and node.css(a.adopted)),
                        "like_count": _value(node, a.like_count),
                        "posted_at": parse_korean_datetime(_value(node, a.posted_at), now),
                        "is_deleted": deleted,
                    }
                )
        yield {
            "kind": "question",
            "source": self.source_name,
            "external_id": qid,
            "url": url,
            "title": _value(response, q.title),
            "body": _value(response, q.body, html=True),
            "category": _value(response, q.category),
            "keywords": response.css(q.keywords).getall() if q.keywords else [],
            "author_id": _user_id(author_link),
            "author_name": _value(response, q.author),
            "posted_at": parse_korean_datetime(_value(response, q.posted_at), now),
            "view_count": _value(response, q.view_count),
            "comment_count": len(answers) if self.config.answers else None,
            "comments": answers,
        }

    def failed(self, failure):
        self.crawler.stats.inc_value("board/question_failed")
        self.logger.error("question %s failed: %s", failure.request.url, failure.value)


def _matches(sel, css: str) -> bool:
    """Whether the row element itself matches `css` (a notice row `tr.noticeList`)."""
    return bool(sel.xpath(HTMLTranslator().css_to_xpath(css, prefix="self::")))


def _user_id(link: str) -> str | None:
    m = re.search(r"(?:/users?/|[?&](?:u|user|uid|memberId)=)([\w-]+)", link or "")
    return m.group(1) if m else None
