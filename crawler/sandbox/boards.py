"""Two more boards for the generic, config-driven `board` spider (`crawler/boards/*.yaml|toml`):

- a 네이버 지식iN-like Q&A board: `/kin/list`, `/kin/detail?dirId=7&docId=N` (answers `div._answer`,
  the adopted one marked "질문자 채택", a deleted question says "삭제되었거나 존재하지 않는 게시물입니다");
- an 82cook-like table board in CP949: `/82/list.php?bn=15`, `/82/read.php?bn=15&num=N` (notice rows
  `tr.noticeList`; today's posts dated `HH:MM:SS`, older ones `YYYY.MM.DD`; odd-numbered posts send
  `charset=euc-kr` in the header, even-numbered ones only a `<meta charset=euc-kr>`).

Canonical values live here; the pages and `golden.board_rows()` are both derived from them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime

from starlette.requests import Request
from starlette.routing import Route

from crawler.sandbox.content import HTTP_DATE, KST, NOW


@dataclass(frozen=True)
class BoardAnswer:
    id: str
    author: str
    user: str | None  # profile id in the author link (kin), None when the board shows none
    text: str
    at: datetime
    at_display: str
    adopted: bool = False


@dataclass(frozen=True)
class BoardPost:
    id: str
    title: str
    text: str
    at: datetime
    at_display: str
    views: int | None = None
    views_display: str | None = None
    answers: list[BoardAnswer] = field(default_factory=list)
    deleted: bool = False


def _at(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=KST)


KIN = [
    BoardPost(
        "5001",
        "베란다 벽지 곰팡이 제거 어떻게 하나요",
        "베란다 쪽 벽지 아래에 곰팡이가 번졌어요.\n락스로 닦아도 다시 생겨요.",
        _at("2026-04-28 00:00:00"),
        "2026.04.28.",
        1204,
        "조회수 1,204",
        [
            BoardAnswer(
                "a1",
                "벽지박사",
                "u9",
                "곰팡이 핀 벽지는 걷어 내고 제거제로 처리한 뒤 말려서 다시 도배하세요.\n초배지부터 다시 시공하는 게 좋아요.",
                _at("2026-04-29 00:00:00"),
                "2026.04.29.",
                adopted=True,
            ),
            BoardAnswer(
                "a2",
                "지나가다",
                "u10",
                "저도 같은 문제 있었는데 결로가 원인이었어요 ㅠㅠ",
                _at("2026-05-01 09:00:00"),
                "3시간 전",
            ),
        ],
    ),
    BoardPost(
        "5002",
        "도배 후 몰딩 틈 보수",
        "도배하고 나서 몰딩과 벽지 사이에 틈이 생겼어요. 실리콘으로 메워도 될까요?",
        _at("2026-04-27 00:00:00"),
        "2026.04.27.",
        388,
        "조회수 388",
        [
            BoardAnswer(
                "a1",
                "인테리어고수",
                "u11",
                "수성 아크릴 코킹으로 메우세요. 유성 실리콘은 벽지에 번져요.",
                _at("2026-04-30 00:00:00"),
                "어제",
                adopted=True,
            ),
        ],
    ),
    BoardPost(
        "5003",
        "결로 때문에 벽지가 누렇게 변했어요",
        "북향 방 벽지가 겨울마다 누렇게 변합니다. 단열벽지가 효과 있나요?",
        _at("2026-04-25 00:00:00"),
        "2026.04.25.",
        15000,
        "조회수 1.5만",
        [
            BoardAnswer(
                "a1",
                "단열전문",
                "u12",
                "단열벽지는 보조 수단이에요. 심하면 내단열 보강을 하셔야 합니다.",
                _at("2026-04-26 00:00:00"),
                "2026.04.26.",
            ),
            BoardAnswer(
                "a2",
                "집주인",
                "u13",
                "제습기를 같이 쓰면 확실히 덜해요.",
                _at("2026-04-26 00:00:00"),
                "2026.04.26.",
            ),
        ],
    ),
    BoardPost("5004", "(삭제된 질문)", "", _at("2026-04-24 00:00:00"), "2026.04.24.", deleted=True),
    BoardPost(
        "5005",
        "실크벽지 이음새가 벌어졌어요",
        "입주 한 달 만에 이음새가 벌어졌어요. 무상 보수 기간인가요?",
        _at("2026-04-20 00:00:00"),
        "2026.04.20.",
        97,
        "조회수 97",
        [],
    ),
]

COOK = [
    BoardPost(
        "301",
        "합지벽지 이음새가 벌어졌어요",
        "작은방 합지벽지 이음새가 벌어져서 속상해요 ㅠㅠ\n풀칠을 다시 하면 될까요?",
        _at("2026-05-01 09:30:12"),
        "09:30:12",
        answers=[
            BoardAnswer(
                "r1",
                "이웃",
                None,
                "벽지용 풀을 얇게 바르고 롤러로 밀어 주세요.",
                _at("2026-05-01 10:02:45"),
                "10:02:45",
            ),
            BoardAnswer(
                "r2",
                "도배20년",
                None,
                "이음새 아래 초배가 없으면 또 벌어져요.",
                _at("2026-05-01 10:40:00"),
                "10:40:00",
            ),
        ],
    ),
    BoardPost(
        "302",
        "장판이 들떠요",
        "거실 장판 가운데가 들떠서 걸을 때마다 소리가 나요.",
        _at("2026-04-29 00:00:00"),
        "2026.04.29",
        answers=[
            BoardAnswer(
                "r1",
                "살림고수",
                None,
                "바닥 습기 때문일 수 있어요. 장판을 들어 말려 보세요.",
                _at("2026-04-29 00:00:00"),
                "2026.04.29",
            ),
        ],
    ),
    BoardPost(
        "303",
        "벽지에 곰팡이 냄새가 나요",
        "장마철마다 안방 벽지에서 곰팡이 냄새가 나요. 도배를 새로 해야 할까요?",
        _at("2026-04-30 00:00:00"),
        "2026.04.30",
        answers=[],
    ),
    BoardPost(
        "304",
        "도배 업체 추천 말고 고르는 요령",
        "견적 받을 때 무엇을 확인해야 하자가 적을까요?",
        _at("2026-05-01 07:15:00"),
        "07:15:00",
        answers=[
            BoardAnswer(
                "r1",
                "깐깐이",
                None,
                "초배 방식과 벽지 품번, 하자보수 기간을 견적서에 적어 달라고 하세요.",
                _at("2026-05-01 08:00:00"),
                "08:00:00",
            ),
        ],
    ),
]
COOK_NOTICES = [("1", "[공지] 게시판 이용 규칙"), ("2", "[공지] 광고 글은 삭제됩니다")]


def _html_text(text: str) -> str:
    return "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))


def _send(body: bytes, ctype: str):
    from starlette.responses import Response

    return Response(body, headers={"Date": HTTP_DATE, "Content-Type": ctype})


def kin_list(request: Request):
    rows = "".join(
        f'<li class="item"><a class="title" href="/kin/detail?dirId=7&amp;docId={p.id}">{html.escape(p.title)}</a>'
        f' <span class="answer-count">답변 {len(p.answers)}</span></li>'
        for p in KIN
    )
    return _send(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>지식iN 인테리어</title></head><body>"
                 f"<ul class='board'>{rows}</ul></body></html>".encode(), "text/html; charset=utf-8")  # fmt: skip


def kin_detail(request: Request):
    doc = request.query_params.get("docId", "")
    post = next((p for p in KIN if p.id == doc), None)
    if post is None or post.deleted:
        return _send("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><div class='error'>"
                     "삭제되었거나 존재하지 않는 게시물입니다.</div></body></html>".encode(), "text/html; charset=utf-8")  # fmt: skip
    answers = "".join(
        f'<div class="_answer" data-answer-id="{a.id}">'
        + ('<span class="badge">질문자 채택</span>' if a.adopted else "")
        + f'<a class="nick" href="/kin/users/{a.user}">{html.escape(a.author)}</a>'
        f'<div class="answer-body">{_html_text(a.text)}</div><span class="date">{a.at_display}</span></div>'
        for a in post.answers
    )
    body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(post.title)}</title></head><body>"
            f"<div class='question'><h3 class='q-title'>{html.escape(post.title)}</h3>"
            f"<div class='q-body'>{_html_text(post.text)}</div><span class='q-date'>{post.at_display}</span>"
            f"<span class='q-views'>{post.views_display}</span></div>{answers}</body></html>")  # fmt: skip
    return _send(body.encode(), "text/html; charset=utf-8")


def cook_list(request: Request):
    notices = "".join(
        f'<tr class="noticeList"><td><a href="read.php?bn=15&amp;num={n}">{t}</a></td></tr>'
        for n, t in COOK_NOTICES
    )
    rows = "".join(
        f'<tr><td class="numbers">{p.id}</td><td class="title"><a href="read.php?bn=15&amp;num={p.id}">'
        f"{html.escape(p.title)}</a></td><td class='regdate'>{p.at_display}</td></tr>"
        for p in COOK
    )
    page = (f"<html><head><meta http-equiv='Content-Type' content='text/html; charset=euc-kr'><title>자유게시판</title></head>"
            f"<body><table class='boardlist'>{notices}{rows}</table></body></html>")  # fmt: skip
    return _send(page.encode("cp949"), "text/html; charset=euc-kr")


def cook_read(request: Request):
    num = request.query_params.get("num", "")
    notice = dict(COOK_NOTICES).get(num)
    post = next((p for p in COOK if p.id == num), None)
    if post is None and notice is None:
        return _send("<html><body>없는 글입니다</body></html>".encode("cp949"), "text/html; charset=euc-kr")
    if notice is not None:
        title, text, date, replies = notice, "게시판 규칙을 지켜 주세요.", "2026.01.01", ""
    else:
        title, text, date = post.title, post.text, post.at_display
        replies = "".join(f"<li data-id='{a.id}'><span class='who'>{html.escape(a.author)}</span><p>{_html_text(a.text)}</p>"
                          f"<span class='rdate'>{a.at_display}</span></li>" for a in post.answers)  # fmt: skip
    page = (f"<html><head><meta charset='euc-kr'><title>{html.escape(title)}</title></head><body>"
            f"<h4 class='title'>{html.escape(title)}</h4><div id='articleBody'>{_html_text(text)}</div>"
            f"<span class='date'>{date}</span><ul class='reply'>{replies}</ul></body></html>")  # fmt: skip
    header = int(num) % 2 == 1  # odd: charset in the header; even: only the <meta> says euc-kr
    return _send(page.encode("cp949"), "text/html; charset=euc-kr" if header else "text/html")


def routes(_respond) -> list[Route]:
    return [
        Route("/kin/list", kin_list),
        Route("/kin/detail", kin_detail),
        Route("/82/list.php", cook_list),
        Route("/82/read.php", cook_read),
    ]


__all__ = ["KIN", "COOK", "COOK_NOTICES", "NOW", "routes"]
