"""The sandbox site's content: seed questions (canonical values) and their rendered (intentionally messy)
variants, generated questions for `--scale`, the site's fixed clock and the few formats its pages share.

Everything is deterministic: a fixed clock (`NOW`), fixed ids, and generated content from a seeded
`random.Random`. The golden rows (`crawler/sandbox/golden.py`) are computed from the canonical
values here, never by running a spider. The run-time state around it is `crawler/sandbox/site.py`.
"""

from __future__ import annotations

import hashlib
import html
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import yaml

from foundation.errors import ConfigError

KST = timezone(timedelta(hours=9), "KST")
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=KST)  # the site's clock: every response's Date header
HTTP_DATE = "Fri, 01 May 2026 03:00:00 GMT"
CONTENT = Path(__file__).resolve().parent / "content" / "questions.yaml"
WITHDRAWN = "탈퇴한 사용자"
GENERATED_FIRST_ID = 100_001
LIST_PER = 20  # cards per HTML list page
ERAS = ("2019", "2021", "2024")
FAULTS = {"always500", "flaky503", "rate429", "slow", "truncated_props", "short_body"}


@dataclass(frozen=True)
class Writer:
    id: int | None  # None: withdrawn user (no profile link)
    nickname: str
    badge: str | None = None  # None | "expert" | "seller"


@dataclass
class Comment:
    id: int
    question_id: int
    parent_id: int | None
    writer: Writer | None  # None only for deleted comments
    text: str  # canonical text
    raw_html: str  # what the site serves as body_html
    created_at: datetime  # canonical (KST-aware)
    display_at: str | None  # how the site prints the date (relative forms), None: ISO
    like_count: int
    is_adopted: bool = False
    is_deleted: bool = False


@dataclass
class Question:
    id: int
    title: str  # canonical
    raw_title: str  # what the site serves (may hold entities)
    text: str  # canonical body
    raw_html: str  # served body_html
    category: str | None
    keywords: list[str]
    writer: Writer
    created_at: datetime
    display_at: str | None
    view_count: int | None
    scrap_count: int | None
    comments: list[Comment] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    deleted: str | None = None  # None | "soft" | "hard"
    members_only: bool = False
    fault: str | None = None
    late_post: bool = False
    comment_page_overlap: bool = False
    revision: int = 0

    @property
    def is_live(self) -> bool:
        """Stored by a correct crawl (reachable, not deleted)."""
        return not self.deleted and not self.members_only and self.fault != "always500"

    @property
    def lastmod(self) -> datetime:
        """The sitemap's lastmod: the newest of the question and its comments, or the last edit."""
        times = [self.created_at] + [c.created_at for c in self.comments]
        newest = max(times)
        if self.revision:
            newest = max(newest, NOW + timedelta(minutes=self.revision))
        return newest


def text_to_html(text: str) -> str:
    """Canonical text → the site's markup: paragraphs in `<p>`, line breaks as `<br>`."""
    if not text:
        return ""
    paras = text.split("\n\n")
    return "".join(
        "<p>" + "<br>".join(html.escape(line, quote=False) for line in p.split("\n")) + "</p>" for p in paras
    )


def comment_to_html(text: str) -> str:
    """Comments are served without `<p>`: line breaks `<br>`, paragraph breaks `<br><br>`."""
    return "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))


def _kst(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=KST)
    except ValueError as exc:
        raise ConfigError(f"{CONTENT}: bad date {value!r} (expected YYYY-MM-DD HH:MM)") from exc


HUGE_ITEMS = [
    "벽지 이음새가 벌어지거나 겹친 곳이 없는지 빛을 비스듬히 비춰 확인",
    "창문 주변과 모서리에 들뜸이나 기포가 없는지 손으로 눌러 확인",
    "천장 몰딩과 벽지 사이에 틈이 생기지 않았는지 확인",
    "콘센트와 스위치 주변 칼선이 깔끔한지 확인",
    "표면에 풀자국이나 얼룩이 남지 않았는지 확인",
    "석고보드 이음매를 따라 금이 가지 않았는지 확인",
    "결로가 생기던 벽에 곰팡이 흔적이 다시 보이지 않는지 확인",
    "문틀과 걸레받이 주변 마감이 들뜨지 않았는지 확인",
]


def huge_answer() -> tuple[str, str]:
    """The 150 KB answer of question 1040: hundreds of lines, each followed by an image."""
    lines = [
        f"{i}. {HUGE_ITEMS[i % len(HUGE_ITEMS)]}하고, 이상이 있으면 사진을 찍어 두세요 (항목 {i})"
        for i in range(1, 801)
    ]
    raw = "".join(
        f'{html.escape(line, quote=False)}<img src="/static/img/1040/{i}.jpg" alt="" width="640"><br>'
        for i, line in enumerate(lines, 1)
    )
    return "\n".join(lines), raw


# libyaml's safe loader (in PyYAML's wheels) reads the content file in 0.02 s, the pure-Python one in
# 0.15 s: every `Site` reads it twice, and the tests and the demo build hundreds of sites.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_content(path: Path) -> dict:
    try:
        return yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the sandbox content: {exc}") from exc


def load_seed(path: Path = CONTENT) -> list[Question]:
    """The seed questions of `content/questions.yaml` (plus the notices, see `load_notices`)."""
    data = _read_content(path)
    users: dict[str, int] = data["users"]
    out: list[Question] = []
    for q in data["questions"]:
        qid = int(q["id"])

        def writer(nick: str | None, badge: str | None = None, where: str = "", qid: int = qid) -> Writer:
            if nick is None:
                return Writer(None, WITHDRAWN)
            if nick not in users:
                raise ConfigError(f"{path}: question {qid}{where}: unknown user {nick!r} (add it to users:)")
            return Writer(users[nick], nick, badge)

        comments: list[Comment] = []
        for i, c in enumerate(q.get("comments") or [], 1):
            parent = c.get("re")
            text = c["text"]
            comments.append(
                Comment(
                    id=qid * 100 + i,
                    question_id=qid,
                    parent_id=None if parent is None else qid * 100 + int(parent),
                    writer=writer(c["by"], c.get("badge"), f" comment {i}"),
                    text=text,
                    raw_html=c.get("raw") or comment_to_html(text),
                    created_at=_kst(c["at"]),
                    display_at=c.get("at_display"),
                    like_count=int(c.get("likes", 0)),
                    is_adopted=bool(c.get("adopted", False)),
                    is_deleted=bool(c.get("deleted", False)),
                )
            )
        text = q.get("body") or ""
        raw_html = q.get("raw_body")
        if raw_html is not None and q.get("raw_nfd"):
            nfd = q["raw_nfd"]
            raw_html = raw_html.replace(nfd, unicodedata.normalize("NFD", nfd))
        question = Question(
            id=qid,
            title=q["title"],
            raw_title=q.get("raw_title") or html.escape(q["title"], quote=False),
            text=text,
            raw_html=raw_html if raw_html is not None else text_to_html(text),
            category=q.get("category"),
            keywords=list(q.get("keywords") or []),
            writer=writer(q["by"]),
            created_at=_kst(q["at"]),
            display_at=q.get("at_display"),
            view_count=q.get("views"),
            scrap_count=q.get("scraps"),
            comments=comments,
            images=list(q.get("images") or []),
            deleted=q.get("deleted"),
            members_only=bool(q.get("members_only", False)),
            fault=q.get("fault"),
            late_post=bool(q.get("late_post", False)),
            comment_page_overlap=bool(q.get("comment_page_overlap", False)),
        )
        if question.fault and question.fault not in FAULTS:
            raise ConfigError(f"{path}: question {qid}: unknown fault {question.fault!r}")
        if q.get("huge_answer"):
            c = question.comments[0]
            c.text, c.raw_html = huge_answer()
        out.append(question)
    return out


def load_notices(path: Path = CONTENT) -> list[dict]:
    return list(_read_content(path)["notices"])


# ----------------------------------------------------------------------------- generated (--scale)

TOPICS = [
    ("벽지 들뜸", ["도배", "벽지", "들뜸"], "도배"),
    ("실크벽지 울음", ["실크벽지", "울음"], "도배"),
    ("합지벽지 이음새", ["합지벽지", "이음새"], "도배"),
    ("벽지 곰팡이", ["곰팡이", "벽지"], "곰팡이"),
    ("베란다 결로", ["결로", "단열"], "결로"),
    ("몰딩 틈", ["몰딩", "틈"], "몰딩"),
    ("석고보드 균열", ["석고보드", "균열"], "석고보드"),
    ("천장 벽지 처짐", ["천장", "벽지"], "도배"),
    ("주방 실리콘 곰팡이", ["주방", "곰팡이"], "주방"),
    ("거실 조명 깜빡임", ["조명", "LED"], "조명"),
    ("붙박이장 결로", ["수납", "결로"], "수납"),
]
PLACES = ["거실", "안방", "작은방", "아이방", "복도", "주방 옆 벽", "베란다 쪽 벽", "드레스룸"]
WHEN = ["도배한 지 일주일", "입주한 지 한 달", "시공 후 사흘", "이사 온 지 반년", "리모델링 후 석 달"]
ASKS = [
    "하자보수 요청해야 할까요?",
    "셀프로 보수할 방법이 있을까요?",
    "원인이 뭔지 궁금합니다.",
    "시공사에 뭐라고 말해야 할지 모르겠어요.",
]
ANSWERS = [
    "초배와 정배 사이에 풀이 덜 먹은 경우가 많아요. 시공사에 사진을 보내고 하자보수를 요청하세요.",
    "벽 자체의 습기가 원인일 수 있으니 수분 측정부터 해 보세요.",
    "시공 직후라면 며칠 자연 건조를 기다려 보는 게 좋아요.",
    "같은 품번 여분 벽지가 있으면 부분 보수로 해결됩니다.",
    "단열이 끊긴 자리라 결로가 생기기 쉬워요. 실내 습도를 낮게 관리하세요.",
    "저희 집도 같은 증상이었는데 재시공하고 나서 괜찮아졌어요.",
]
GEN_WRITERS = [Writer(6000 + i, f"집꾸미기{i:03d}") for i in range(200)]
GEN_EXPERTS = [
    Writer(7101, "도배명장", "expert"),
    Writer(7102, "현장소장", "expert"),
    Writer(7103, "벽지마켓", "seller"),
]


def generate(n: int, seed: int = 0) -> list[Question]:
    """`n` generated questions (ids from 100001), deterministic for a given `seed`."""
    rng = random.Random(seed)
    out: list[Question] = []
    start = datetime(2026, 4, 11, 23, 0, tzinfo=KST)
    for k in range(n):
        qid = GENERATED_FIRST_ID + k
        topic, keywords, category = TOPICS[rng.randrange(len(TOPICS))]
        place, when, ask = rng.choice(PLACES), rng.choice(WHEN), rng.choice(ASKS)
        created = start - timedelta(minutes=37 * k + rng.randrange(30))
        title = f"{place} {topic} 문제 ({k + 1}번째 질문)"
        text = f"{when} 됐는데 {place}에 {topic} 증상이 생겼어요.\n사진 첨부합니다.\n\n{ask}"
        comments: list[Comment] = []
        for i in range(1, rng.randrange(7) + 1):
            is_reply = i > 1 and rng.random() < 0.25
            w = rng.choice(GEN_EXPERTS) if rng.random() < 0.4 else rng.choice(GEN_WRITERS)
            body = rng.choice(ANSWERS)
            comments.append(
                Comment(
                    id=qid * 100 + i,
                    question_id=qid,
                    parent_id=qid * 100 + 1 if is_reply else None,
                    writer=w,
                    text=body,
                    raw_html=comment_to_html(body),
                    created_at=created + timedelta(minutes=13 * i),
                    display_at=None,
                    like_count=rng.randrange(30),
                    is_adopted=i == 1 and w.badge == "expert",
                )
            )
        out.append(
            Question(
                id=qid,
                title=title,
                raw_title=html.escape(title, quote=False),
                text=text,
                raw_html=text_to_html(text),
                category=category,
                keywords=list(keywords),
                writer=rng.choice(GEN_WRITERS),
                created_at=created,
                display_at=None,
                view_count=rng.randrange(20, 40_000),
                scrap_count=rng.randrange(50),
                comments=comments,
            )
        )
    return out


# ----------------------------------------------------------------------------- the running site


def emotion_hash(name: str, churn: int) -> str:
    """`css-<hash>-<Name> e<hash><n>`-style class for component `name` under churn level `churn`."""
    h = hashlib.sha1(f"{churn}:{name}".encode()).hexdigest()
    n, digits = int(h[:12], 16), ""
    for _ in range(7):
        n, d = divmod(n, 36)
        digits += "0123456789abcdefghijklmnopqrstuvwxyz"[d]
    return f"css-{digits}-{name} e{h[12:17]}{len(name) % 10}"


def iso(dt: datetime) -> str:
    """KST ISO form the site prints (`2026-04-12T21:14:00+09:00`)."""
    return dt.astimezone(KST).isoformat()


def utc_iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()
