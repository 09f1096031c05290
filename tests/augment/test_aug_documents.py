"""Reference documents: each format (PDF, HTML from a real local server, Markdown, text), chunk
offsets that point back into the text, idempotent re-adds, clear errors, and the shipped set."""

from __future__ import annotations

import http.server
import threading
from functools import partial

import pytest
from sqlalchemy import func, select

from augment.doc_chunking import make_chunks, sentence_spans
from augment.documents import add_documents
from augment.reference_set import REFERENCE_DIR, reference_sources, write_reference_pdf
from db.models import DocChunk, Document
from db.session import session_scope
from foundation.errors import InputError

TEXT = (
    "도배지 들뜸은 풀칠이 부족할 때 생깁니다. 들뜬 부분은 주사기로 풀을 넣어 붙입니다.\n\n"
    "곰팡이는 결로와 환기 부족이 원인입니다. 단열을 보강하고 습도를 50퍼센트 아래로 관리합니다. "
    "원인을 해결한 뒤 방균 초배지로 다시 시공합니다."
)
HTML = f"""<!doctype html><html><head><title>벽지 하자 안내</title></head><body>
<nav>메뉴 · 로그인 · 회원가입</nav><article><h1>벽지 하자 안내</h1>
{"".join(f"<p>{p}</p>" for p in TEXT.split(chr(10) + chr(10)))}</article>
<footer>Copyright 2026</footer></body></html>"""


def _chunks(url, doc_id):
    with session_scope(url) as s:
        doc = s.get(Document, doc_id)
        return doc.text, [(c.seq, c.page, c.start_char, c.end_char, c.text) for c in doc.chunks]


def test_sentences_and_chunks_point_back_into_the_text():
    spans = sentence_spans(TEXT)
    assert [TEXT[a:b] for a, b in spans][:2] == [
        "도배지 들뜸은 풀칠이 부족할 때 생깁니다.",
        "들뜬 부분은 주사기로 풀을 넣어 붙입니다.",
    ]
    assert len(spans) == 5
    chunks = make_chunks(TEXT, chunk_chars=60, overlap_chars=30)
    assert len(chunks) >= 3
    for c in chunks:
        assert TEXT[c.start : c.end] == c.text and len(c.text) <= 60
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start < a.end  # overlap: the next chunk repeats the previous one's last sentence
        assert b.start > a.start  # and always moves on
    assert chunks[-1].end == len(TEXT.rstrip())


def test_markdown_and_text_then_an_unchanged_re_add_adds_nothing(db_url, tmp_path):
    md = tmp_path / "guide.md"
    md.write_text("# 도배 안내\n\n**들뜸**은 " + TEXT, encoding="utf-8")
    txt = tmp_path / "notes.txt"
    txt.write_bytes("\ufeff".encode() + TEXT.encode("utf-8"))  # a BOM is fine
    first = add_documents([md, txt], note="written for the tests")
    assert [n for _, _, n in first.added] and not first.unchanged
    again = add_documents([md, txt])
    assert not again.added and [i for _, i in again.unchanged] == [i for _, i, _ in first.added]
    text, chunks = _chunks(db_url, first.added[0][1])
    assert text.startswith("도배 안내\n\n들뜸은")  # markup gone, offsets into the stored text
    assert all(text[a:b] == t for _, _, a, b, t in chunks)
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 2
        doc = s.get(Document, first.added[0][1])
        assert (doc.kind, doc.title, doc.note, len(doc.sha256)) == (
            "markdown",
            "도배 안내",
            "written for the tests",
            64,
        )
    md.write_text("# 도배 안내\n\n바뀐 내용입니다. " + TEXT, encoding="utf-8")
    assert len(add_documents([md]).added) == 1  # a changed file is a new document


def test_pdf_with_pages(db_url, tmp_path, monkeypatch):
    from foundation.settings import reset_settings

    monkeypatch.setenv("DOBAE_AUGMENT__DOCS__CHUNK_CHARS", "150")
    reset_settings()
    src = tmp_path / "guide.md"
    src.write_text("# 결로 안내\n\n" + "\n\n".join([TEXT] * 6), encoding="utf-8")
    pdf = write_reference_pdf(src, tmp_path / "guide.pdf")
    res = add_documents([pdf])
    text, chunks = _chunks(db_url, res.added[0][1])
    with session_scope(db_url) as s:
        doc = s.get(Document, res.added[0][1])
        assert doc.kind == "pdf" and doc.pages >= 2 and doc.title == "결로 안내"
    assert "곰팡이는 결로와 환기 부족이 원인입니다." in text
    assert all(text[a:b] == t for _, _, a, b, t in chunks)
    pages = [p for _, p, *_ in chunks]
    assert pages[0] == 1 and pages[-1] >= 2 and pages == sorted(pages)


def test_html_from_a_local_server(db_url, tmp_path):
    (tmp_path / "page.html").write_text(HTML, encoding="utf-8")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/page.html"
        res = add_documents([url])
        with pytest.raises(InputError, match="cannot fetch"):
            add_documents([url.replace("page.html", "missing.html")])
    finally:
        server.shutdown()
        server.server_close()
    text, chunks = _chunks(db_url, res.added[0][1])
    assert "결로와 환기 부족" in text and "로그인" not in text and "Copyright" not in text
    with session_scope(db_url) as s:
        doc = s.get(Document, res.added[0][1])
        assert (doc.kind, doc.title, doc.source) == ("html", "벽지 하자 안내", url)


def test_bad_inputs_name_the_file(sqlite_url, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        add_documents([tmp_path / "missing.md"])
    odd = tmp_path / "table.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(InputError, match=r"table\.xlsx: unknown document type"):
        add_documents([odd])
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("벽지".encode("cp949"))
    with pytest.raises(InputError, match=r"latin1\.txt: not UTF-8 at byte 0"):
        add_documents([bad])
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(InputError, match=r"broken\.pdf"):
        add_documents([broken])
    with session_scope(sqlite_url) as s:
        assert s.scalar(select(func.count()).select_from(DocChunk)) == 0


def test_the_shipped_reference_set(sqlite_url, tmp_path):
    names = [p.name for p in reference_sources()]
    assert names == ["condensation-mold.pdf", "wallpaper-defects.md"]
    res = add_documents(reference_sources())
    assert len(res.added) == 2 and all(n >= 2 for _, _, n in res.added)
    # the committed PDF says what the generator makes of its Markdown source: judged by its pages and
    # text, not its bytes (a newer fontTools subsets the font differently and changes a few bytes)
    src = REFERENCE_DIR / "src" / "condensation-mold.md"
    fresh = write_reference_pdf(src, tmp_path / "c.pdf")
    shipped = _pdf_pages(REFERENCE_DIR / "condensation-mold.pdf")
    assert len(shipped) >= 2 and _pdf_pages(fresh) == shipped
    assert "결로" in shipped[0]
    # and for one set of installed versions the generator is deterministic, byte for byte
    again = write_reference_pdf(src, tmp_path / "again.pdf")
    assert again.read_bytes() == fresh.read_bytes()


def _pdf_pages(path):
    from pypdf import PdfReader

    return [" ".join(page.extract_text().split()) for page in PdfReader(path).pages]
