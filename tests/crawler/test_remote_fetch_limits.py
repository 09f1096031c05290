"""Remote fetches the user names (`dobae crawl probe URL`, `dobae docs add URL`): a size cap, a
deadline in all and between bytes, one line for an unreachable robots.txt, passwords in URLs never
shown or stored, and a page title with `[/x]` printed as text. Real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mini_site
import pytest

PAGE = (
    "<html><head><title>벽지 안내</title></head><body><article><h1>벽지 안내</h1><p>도배지 들뜸은 풀칠이 "
    "부족할 때 생깁니다. 들뜬 부분은 주사기로 풀을 넣어 붙입니다.</p><p>곰팡이는 결로와 환기 부족이 "
    "원인입니다. 단열을 보강하고 습도를 관리합니다.</p></article></body></html>"
)


class Hostile(BaseHTTPRequestHandler):
    sent: dict[str, int] = {}

    def log_message(self, *args) -> None:
        pass

    def _head(self, status=200, ctype="text/html; charset=utf-8", length=None, extra=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        try:
            if path == "/robots.txt":
                return self._head(404, length=0)
            if path == "/page.html":
                if self.headers.get("Authorization") is None:
                    self._head(401, length=0, extra={"WWW-Authenticate": 'Basic realm="x"'})
                    return
                body = PAGE.encode()
                self._head(length=len(body))
                self.wfile.write(body)
            elif path == "/declared-huge":
                self._head(length=10 * 1024**3)
                self.wfile.write(b"x" * 1024)
            elif path == "/endless":  # no Content-Length: bytes until the client hangs up
                self._head()
                chunk = b"<p>" + b"x" * 65536 + b"</p>"
                while True:
                    self.wfile.write(chunk)
                    Hostile.sent[path] = Hostile.sent.get(path, 0) + len(chunk)
            elif path == "/drip":  # one byte every 0.3 s, for ever
                self._head()
                while True:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.3)
            elif path == "/silent":
                self._head()
                time.sleep(30)
            elif path == "/members-only":
                self._head(302, length=0, extra={"Location": "/accounts/login?next=/members-only"})
            elif path == "/accounts/login":
                body = "<html><body><h1>로그인이 필요합니다</h1><p>회원만 볼 수 있는 페이지입니다. 로그인해 주세요.</p></body></html>".encode()
                self._head(length=len(body))
                self.wfile.write(body)
            elif path == "/forbidden":
                self._head(403, length=0)
            else:
                self._head(404, length=0)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def hostile():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def tight(monkeypatch):
    from foundation.settings import reset_settings

    monkeypatch.setenv("DOBAE_FETCH__MAX_MB", "1")
    monkeypatch.setenv("DOBAE_FETCH__DEADLINE_S", "2")
    monkeypatch.setenv("DOBAE_FETCH__IDLE_S", "1")
    reset_settings()
    yield
    reset_settings()


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("path", "says", "within_s"),
    [
        # bounds far below what no limit costs (10 GiB; for ever; the server's 30 s), loose for load
        ("/declared-huge", "10,737,418,240 bytes, more than the 1,048,576 a fetch may read", 10),
        ("/endless", "more than the 1,048,576 bytes a fetch may read", 10),
        ("/drip", "not complete after 2 s, the server is too slow", 10),
        ("/silent", "the server sent nothing for too long", 10),
    ],
)
@pytest.mark.parametrize("command", ["docs add", "crawl probe"])
def test_too_big_or_too_slow_is_one_line(path, says, within_s, command, hostile, tight, sqlite_url, cli):
    t0 = time.monotonic()
    code, out, err = cli(*command.split(), f"{hostile}{path}")
    took = time.monotonic() - t0
    line = _one_line(err)
    assert code == 1 and line.startswith(f"error: {command}: ") and says in line, line
    assert took < within_s, f"{took:.1f} s"


def test_endless_body_stops_reading_at_the_cap(hostile, tight, sqlite_url, cli):
    Hostile.sent.clear()
    code, _out, err = cli("docs", "add", f"{hostile}/endless")
    assert code == 1
    time.sleep(0.2)  # the server notices the closed connection
    assert Hostile.sent["/endless"] < 40 * 1024 * 1024  # the socket buffers, not the whole stream


def test_unreachable_robots_txt_is_one_line(cli):
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = cli("crawl", "probe", f"http://127.0.0.1:{port}/")
    line = _one_line(err)
    assert code == 1 and line == (
        f"error: crawl probe: cannot fetch http://127.0.0.1:{port}/robots.txt: connection refused "
        "(is the server up at that address?)"
    )


def test_a_password_in_the_url_is_never_shown_or_stored(hostile, sqlite_url, cli):
    from sqlalchemy import select

    from db.models import Document
    from db.session import session_scope

    url = hostile.replace("http://", "http://kim:hunter2@") + "/page.html"
    code, out, err = cli("docs", "add", url)
    assert code == 0, err
    shown = hostile.replace("http://", "http://kim:***@") + "/page.html"
    assert shown in err.replace("\n", "") and "hunter2" not in out + err
    with session_scope(sqlite_url) as s:
        assert s.scalars(select(Document.source)).all() == [shown]
    code, out, err = cli("docs", "list")
    assert "hunter2" not in out + err
    for extra in ((), ("--json",)):
        code, out, err = cli("crawl", "probe", url.replace("/page.html", "/questions/1"), *extra)
        assert "hunter2" not in out + err and "kim:***@" in out + err


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/members-only", "redirected to a sign-in page"),
        ("/forbidden", "HTTP 403, the page needs a login"),
    ],
)
def test_a_login_page_is_not_a_reference_document(path, says, hostile, db_url, cli):
    from sqlalchemy import func, select

    from db.models import Document
    from db.session import session_scope

    code, out, err = cli("docs", "add", f"{hostile}{path}")
    line = _one_line(err)
    assert code == 1 and says in line, line
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0


@pytest.fixture
def mini(tmp_path, monkeypatch):
    monkeypatch.setitem(
        mini_site.QUESTIONS, "11", {**mini_site.QUESTIONS["11"], "title": "벽지 [/x] [bold]들뜸"}
    )
    mini_site.Handler.log_path = str(tmp_path / "requests.log")
    server = ThreadingHTTPServer(("127.0.0.1", 0), mini_site.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_probe_prints_a_title_with_brackets_as_text(mini, cli, monkeypatch):
    import foundation.console

    monkeypatch.setattr(foundation.console.out, "width", 400)
    code, out, err = cli("crawl", "probe", f"{mini}/questions/11")
    assert code == 0, err
    assert "벽지 [/x] [bold]들뜸" in out


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://[::1", "'http://[::1' is not a usable URL (Invalid IPv6 URL)"),
        ("http://kim:hunter2@[::1/x", "'http://kim:***@[::1/x' is not a usable URL (Invalid IPv6 URL)"),
        (
            "http://127.0.0.1:99999/",
            "'http://127.0.0.1:99999/' is not a usable URL (Port out of range 0-65535)",
        ),
        ("http://nonexistent.invalid/x.html", "cannot fetch http://nonexistent.invalid/"),
    ],
)
@pytest.mark.parametrize("command", ["docs add", "crawl probe"])
def test_a_url_that_does_not_parse_or_resolve_is_one_line(url, says, command, sqlite_url, cli):
    code, out, err = cli(*command.split(), url)
    line = _one_line(err)
    assert code == 1 and line.startswith(f"error: {command}: ") and says in line and "hunter2" not in line, (
        line
    )
