"""A very small ohouse-shaped site for the crawl tests that must control the server exactly
(request log, a 429 with Retry-After on the first list request, a login redirect, a 404).
The full imitation is the sandbox (`crawler/sandbox/`); this one is written for these tests.

Run: python tests/crawler/mini_site.py PORT LOGFILE [GENERATED_QUESTIONS DETAIL_DELAY_S [EDITED_ID]]
"""

from __future__ import annotations

import html
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

QUESTIONS = {
    "11": {
        "title": "안방 벽지가 들떠서 울어요",
        "body_html": "<p>도배한 지 한 달 됐는데<br>창문 쪽 벽지가 들떴어요 &amp; 울어요</p>",
        "created_at": "2026-04-20T10:00:00+09:00",
        "keywords": ["도배", "벽지"],
        "writer": {"id": 501, "nickname": "새집주인"},
        "comments": [
            {
                "id": 9001,
                "body_html": "초배지가 덜 마른 상태에서 정배를 하면 생겨요.<br>시공사에 하자보수 요청하세요.",
                "created_at": "2026-04-20T12:00:00+09:00",
                "like_count": 12,
                "parent_id": None,
                "writer": {"id": 777, "nickname": "도배기능사", "badge": "expert"},
                "is_adopted": True,
            },
            {
                "id": 9002,
                "body_html": "감사합니다 ㅠㅠ",
                "created_at": "2026-04-20T13:00:00+09:00",
                "like_count": 0,
                "parent_id": 9001,
                "writer": {"id": 501, "nickname": "새집주인"},
            },
        ],
    },
    "12": {
        "title": "욕실 천장 곰팡이 제거 방법",
        "body_html": "환풍기를 켜도 천장에 검은 곰팡이가 생겨요",
        "created_at": "2026-04-21T09:30:00+09:00",
        "keywords": ["곰팡이"],
        "writer": {"id": 502, "nickname": "욕실고민"},
        "comments": [
            {
                "id": 9003,
                "body_html": "락스 희석액으로 닦고 완전히 말린 뒤 곰팡이 방지 페인트를 칠하세요.",
                "created_at": "2026-04-21T11:00:00+09:00",
                "like_count": 3,
                "parent_id": None,
                "writer": {"id": 778, "nickname": "인테리어10년"},
            },
        ],
    },
    "13": {"deleted": True},
    "15": {
        "title": "석고보드 이음새에 금이 갔어요",
        "body_html": "거실 벽 석고보드 이음새를 따라 실금이 생겼어요",
        "created_at": "2026-04-23T08:00:00+09:00",
        "keywords": [],
        "writer": {"id": 503, "nickname": "거실벽"},
        "comments": [],
    },
}
LISTED = ["11", "12", "13", "14", "15"]  # 14 is listed but gone (404)
DELAY = 0.0
LASTMOD: dict[str, str] = {}


def edit(qid: str) -> None:
    """Question `qid` was edited: new title and a newer sitemap lastmod."""
    QUESTIONS[qid]["title"] += " (수정)"
    LASTMOD[qid] = "2026-04-30T18:00:00+09:00"


WORDS = [
    "벽지 들뜸",
    "결로",
    "곰팡이",
    "몰딩 틈",
    "석고보드 균열",
    "합지 이음새",
    "실크벽지 울음",
    "장판 변색",
]


def add_generated(n: int) -> None:
    """n more questions (ids 100…) with 0–3 comments each, for the resume test."""
    for i in range(n):
        qid = str(100 + i)
        topic = WORDS[i % len(WORDS)]
        QUESTIONS[qid] = {
            "title": f"{topic} 문제 질문 {i}번",
            "body_html": f"<p>{topic} 때문에 고민입니다.<br>어떻게 해야 할까요? ({i})</p>",
            "created_at": f"2026-03-{1 + i % 28:02d}T09:00:00+09:00",
            "keywords": [topic.split()[0]],
            "writer": {"id": 1000 + i, "nickname": f"사용자{i}"},
            "comments": [
                {"id": 50000 + i * 10 + k, "body_html": f"{topic}은(는) 원인부터 확인하세요. 답변 {k}",
                 "created_at": "2026-04-01T10:00:00+09:00", "like_count": k, "parent_id": None,
                 "writer": {"id": 2000 + k, "nickname": f"전문가{k}"}}
                for k in range(i % 4)
            ],
        }  # fmt: skip
        LISTED.append(qid)


class Handler(BaseHTTPRequestHandler):
    log_path = ""
    lock = threading.Lock()
    hits: dict[str, int] = {}

    def log_message(self, *args) -> None:  # requests go to the log file instead
        pass

    def send(self, status: int, body: str, ctype: str = "text/html; charset=utf-8", headers=None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Date", "Fri, 01 May 2026 03:00:00 GMT")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        q = parse_qs(parts.query)
        with self.lock:
            self.hits[parts.path] = self.hits.get(parts.path, 0) + 1
            hit = self.hits[parts.path]
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(self.path + "\n")
        path = parts.path
        if path == "/robots.txt":
            return self.send(
                200, "User-agent: *\nDisallow: /users/\nDisallow: /questions/new\n", "text/plain"
            )
        if path.startswith("/spa/"):
            return self.spa(path)
        if path.startswith(("/kin/", "/82/")):
            return self.board(path, q)
        if path == "/sitemap.xml":
            return self.send(200, '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                             'sitemap/0.9"><sitemap><loc>http://sandbox.invalid/sitemaps/questions-1.xml</loc></sitemap>'
                             "</sitemapindex>", "application/xml")  # fmt: skip
        if path == "/sitemaps/questions-1.xml":
            urls = "".join(
                f"<url><loc>http://sandbox.invalid/questions/{i}</loc><lastmod>{LASTMOD.get(i, '2026-04-25T00:00:00+09:00')}"
                "</lastmod></url>"
                for i in LISTED
            )
            return self.send(200, '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/'
                             f'schemas/sitemap/0.9">{urls}</urlset>', "application/xml")  # fmt: skip
        if path == "/questions.json":
            if hit == 1:  # the first list request is rate-limited
                return self.send(429, '{"error":"slow down"}', "application/json", {"Retry-After": "1"})
            page, per = int(q.get("page", ["1"])[0]), int(q.get("per", ["20"])[0])
            ids = LISTED[(page - 1) * per : page * per]
            items = [{"id": int(i), "title": QUESTIONS.get(i, {}).get("title", "?"), "comment_count":
                      len(QUESTIONS.get(i, {}).get("comments", []))} for i in ids]  # fmt: skip
            return self.send(
                200, json.dumps({"total_count": len(LISTED), "questions": items}), "application/json"
            )
        if path.startswith("/questions/"):
            time.sleep(DELAY)
            qid = path.rsplit("/", 1)[-1]
            if qid == "15":  # members only: a redirect to the sign-in page
                return self.send(302, "", headers={"Location": "/users/sign_in?return=/questions/15"})
            if qid not in QUESTIONS:
                return self.send(404, "<h1>페이지를 찾을 수 없습니다</h1>")
            return self.render(qid)
        return self.send(404, "not found")

    def board(self, path: str, q: dict) -> None:
        if path == "/kin/list":
            rows = "".join(f'<li class="item"><a class="title" href="/kin/detail?dirId=7&docId={d}">{d}</a></li>'
                           for d in ("5001", "5002", "5003"))  # fmt: skip
            return self.send(200, f"<ul class='board'>{rows}</ul>")
        if path == "/kin/detail":
            doc = q["docId"][0]
            if doc == "5003":
                return self.send(200, "<div class='error'>삭제되었거나 존재하지 않는 게시물입니다.</div>")
            answers = (
                '<div class="_answer" data-answer-id="a1"><span class="badge">질문자 채택</span>'
                '<a class="nick" href="/kin/users/u9">벽지박사</a><div class="answer-body">초배지부터 다시 시공하세요.<br>'
                'ㅠㅠ 힘내세요</div><span class="date">2026.04.29.</span></div>'
                '<div class="_answer" data-answer-id="a2"><a class="nick" href="/kin/users/u10">지나가다</a>'
                '<div class="answer-body">저도 같은 문제 있었어요</div><span class="date">3시간 전</span></div>'
            ) if doc == "5001" else ""  # fmt: skip
            title = "베란다 벽지 곰팡이 제거" if doc == "5001" else "도배 후 몰딩 틈 보수"
            body = (f"<h3 class='q-title'>{title}</h3><div class='q-body'>질문 본문입니다&nbsp;{doc}</div>"
                    f"<span class='q-date'>2026.04.28.</span><span class='q-views'>조회수 1,204</span>{answers}")  # fmt: skip
            return self.send(200, body)
        if path == "/82/list.php":
            rows = ('<tr class="noticeList"><td><a href="read.php?bn=15&num=1">공지</a></td></tr>'
                    '<tr><td class="title"><a href="read.php?bn=15&num=301">합지벽지 이음새</a></td></tr>'
                    '<tr><td class="title"><a href="read.php?bn=15&num=302">장판 들뜸</a></td></tr>')  # fmt: skip
            return self.send_cp949(f"<table>{rows}</table>", header=True)
        if path == "/82/read.php":
            num = q["num"][0]
            title = {"301": "합지벽지 이음새가 벌어졌어요", "302": "장판이 들떠요"}[num]
            page = (f"<html><head><meta charset='euc-kr'></head><body><h4 class='title'>{title}</h4>"
                    f"<div id='articleBody'>이음새가 벌어져서 속상해요 ㅠㅠ {num}</div><span class='date'>09:30:12</span>"
                    "<ul class='reply'><li data-id='r1'><span class='who'>이웃</span><p>풀칠을 다시 하세요</p></li></ul></body></html>")  # fmt: skip
            return self.send_cp949(page, header=num == "301")  # 302: only the meta tag says euc-kr
        return self.send(404, "not found")

    def spa(self, path: str) -> None:
        """JavaScript-only pages: an empty #root filled by script after a delay."""
        head = "<html><head><meta charset='utf-8'></head><body><div id='root'></div><script>"
        if path == "/spa/questions":
            ids = json.dumps(
                [i for i in LISTED if i in QUESTIONS and not QUESTIONS[i].get("deleted")] + ["13"]
            )
            script = (
                f"const ids={ids}; let n=0; function more(){{const r=document.getElementById('root');"
                "for(let k=0;k<2&&n<ids.length;k++,n++){const d=document.createElement('div');"
                "d.className='css-1x-QuestionContainer'; d.setAttribute('data-question-id',ids[n]);"
                "d.innerHTML='<a href=\"/spa/questions/'+ids[n]+'\">'+ids[n]+'</a>'; r.appendChild(d);}"
                "let b=document.getElementById('more'); if(n<ids.length&&!b){b=document.createElement('button');"
                "b.id='more'; b.textContent='더보기'; b.onclick=()=>setTimeout(more,150); document.body.appendChild(b);}"
                "if(n>=ids.length&&b) b.remove();} setTimeout(more,300);"
            )
            return self.send(200, head + script + "</script></body></html>")
        qid = path.rsplit("/", 1)[-1]
        data = QUESTIONS.get(qid)
        if data is None:
            return self.send(404, "not found")
        if data.get("deleted"):
            script = "setTimeout(()=>{document.getElementById('root').innerHTML='<h1>삭제된 질문입니다</h1>'},200);"
            return self.send(200, head + script + "</script></body></html>")
        pages = [data["comments"][i : i + 1] for i in range(0, len(data["comments"]), 1)] or [[]]
        q = {"title": data["title"], "body": data["body_html"], "at": data["created_at"], "pages": pages}
        script = (
            f"const q={json.dumps(q, ensure_ascii=False)}; let p=0; function render(){{"
            "const r=document.getElementById('root');"
            "r.innerHTML='<h1 class=\"css-9-QuestionTitle\">'+q.title+'</h1><div class=\"css-8-QuestionBody\">'+q.body+"
            "'</div><time datetime=\"'+q.at+'\">어제</time>'+q.pages[p].map(c=>'<div data-comment-id=\"'+c.id+"
            "'\" data-parent-id=\"'+(c.parent_id||'')+'\" data-writer-id=\"'+c.writer.id+'\"><span class=\"author\">'+"
            "c.writer.nickname+'</span><div class=\"content\">'+c.body_html+'</div></div>').join('')+"
            "(p<q.pages.length-1?'<button class=\"next\" data-comment-page=\"'+(p+2)+'\">다음</button>':'');"
            "const b=r.querySelector('button.next'); if(b) b.onclick=()=>{p++; setTimeout(render,100);};}"
            "setTimeout(render,300);"
        )
        return self.send(200, head + script + "</script></body></html>")

    def send_cp949(self, body: str, header: bool) -> None:
        data = body.encode("cp949")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=euc-kr" if header else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Date", "Fri, 01 May 2026 03:00:00 GMT")
        self.end_headers()
        self.wfile.write(data)

    def render(self, qid: str) -> None:
        data = QUESTIONS[qid]
        if data.get("deleted"):
            return self.send(200, "<article id='page'><h1>삭제된 질문입니다</h1></article>")
        props = {"question": {"id": int(qid), **{k: v for k, v in data.items() if k != "comments"}},
                 "comments": data["comments"]}  # fmt: skip
        page = (
            f"<html><body><div data-react-class='App' data-react-props=\"{html.escape(json.dumps(props))}\"></div>"
            f"<article id='page'><h1 id='question-name'>{html.escape(data['title'])}</h1>"
            f"<address class='question__author'><a href='/users/{data['writer']['id']}'>작성자</a></address>"
            "</article></body></html>"
        )
        return self.send(200, page)


def main() -> None:
    global DELAY
    port, log = int(sys.argv[1]), sys.argv[2]
    if len(sys.argv) > 3:
        add_generated(int(sys.argv[3]))
        DELAY = float(sys.argv[4])
    if len(sys.argv) > 5:
        edit(sys.argv[5])
    Handler.log_path = log
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
