"""`dobae docs add` edges: a changed file replaces its earlier version, `dobae docs remove`, a
multi-file add is all or nothing, control characters (NUL included) are removed on both databases,
two adds of one file at once, long paragraphs split in bounded windows, the chunk cap with its
warning, and an encrypted PDF that needs a password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from backends import POSTGRES_ONLY
from sqlalchemy import func, select

from augment import doc_chunking, documents
from augment.doc_chunking import WINDOW_CHARS, make_chunks, windows
from augment.documents import add_documents
from db.models import DocChunk, Document, Origin, QAPair
from db.session import session_scope
from foundation.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
TEXT = (
    "도배지 들뜸은 풀칠이 부족할 때 생깁니다. 들뜬 부분은 주사기로 풀을 넣어 붙입니다.\n\n"
    "곰팡이는 결로와 환기 부족이 원인입니다. 단열을 보강하고 습도를 관리합니다."
)


def _docs(url) -> list[tuple[int, str, str]]:
    with session_scope(url) as s:
        return [
            tuple(r)
            for r in s.execute(select(Document.id, Document.source, Document.text).order_by(Document.id))
        ]


def _chunk_count(url) -> int:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(DocChunk))


def _ground_a_pair(url, document_id: int) -> None:
    with session_scope(url) as s:
        chunk = s.scalars(select(DocChunk).where(DocChunk.document_id == document_id)).first()
        s.add(QAPair(key=f"docs:{chunk.id}:0", question_text="도배지가 왜 들뜨나요?", answer_text="풀칠이 부족해서입니다.",
                     origin=Origin.augment, group_id=f"doc:{document_id}", chunk_id=chunk.id))  # fmt: skip


def test_a_changed_file_replaces_its_earlier_version(db_url, tmp_path, cli):
    md = tmp_path / "guide.md"
    md.write_text("# 안내\n\n" + TEXT, encoding="utf-8")
    [(_, first, _)] = add_documents([md]).added
    md.write_text("# 안내\n\n바뀐 내용입니다. " + TEXT, encoding="utf-8")
    code, out, err = cli("docs", "add", str(md))
    assert code == 0, err
    [(second, source, text)] = _docs(db_url)
    assert source == str(md) and text.startswith("안내\n\n바뀐 내용입니다.")
    assert f"replacing document #{first} (its earlier version)" in err.replace("\n", " ")
    with session_scope(db_url) as s:  # only the new version's chunks
        assert {c.text for c in s.scalars(select(DocChunk))} == {c.text for c in make_chunks(text, 350, 120)}


def test_a_changed_file_whose_version_grounds_pairs_is_refused(db_url, tmp_path):
    md = tmp_path / "guide.md"
    md.write_text(TEXT, encoding="utf-8")
    [(_, first, _)] = add_documents([md]).added
    _ground_a_pair(db_url, first)
    md.write_text("바뀐 내용입니다. " + TEXT, encoding="utf-8")
    with pytest.raises(
        InputError,
        match=rf"changed since document #{first}, which 1 generated pair.*docs remove {first} --detach-pairs",
    ):
        add_documents([md])
    assert [d[0] for d in _docs(db_url)] == [first]


def test_docs_remove(db_url, tmp_path, cli):
    a, b = tmp_path / "a.md", tmp_path / "b.txt"
    a.write_text(TEXT, encoding="utf-8")
    b.write_text("석고보드 이음매에 금이 가면 테이프로 보강합니다.", encoding="utf-8")
    [(_, ida, na), (_, idb, nb)] = add_documents([a, b]).added
    _ground_a_pair(db_url, ida)
    code, out, err = cli("docs", "remove", str(ida))
    assert code == 1 and err.strip() == (
        f"error: docs remove: document #{ida} grounds 1 generated pair(s); nothing was removed: pass "
        "--detach-pairs to keep those pairs without the link to their chunk"
    )
    code, out, err = cli("docs", "remove", str(ida), "--detach-pairs")
    assert (
        code == 0
        and f"removed document #{ida}: {a} ({na} chunks); 1 grounded pair(s) kept" in err.replace("\n", " ")
    )
    assert [d[0] for d in _docs(db_url)] == [idb] and _chunk_count(db_url) == nb
    with session_scope(db_url) as s:
        assert s.scalars(select(QAPair.chunk_id)).all() == [None]
    code, out, err = cli("docs", "remove", "999")
    assert (
        code == 1
        and err.strip() == f"error: docs remove: no document #999 (documents: #{idb}; see `dobae docs list`)"
    )


def test_a_multi_file_add_is_all_or_nothing(db_url, tmp_path, cli):
    good = tmp_path / "good.md"
    good.write_text(TEXT, encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_bytes("벽지".encode("cp949"))
    code, out, err = cli("docs", "add", str(good), str(bad), str(tmp_path / "missing.md"))
    assert code == 1 and "Traceback" not in err
    assert (
        err.strip()
        == f"error: {bad}: not UTF-8 at byte 0 (invalid start byte); nothing was added (all 3 sources or none)"
    )
    assert _docs(db_url) == [] and _chunk_count(db_url) == 0


def test_control_characters_and_nul_are_removed_on_both_databases(db_url, tmp_path, cli):
    txt = tmp_path / "ctl.txt"
    txt.write_text(
        "제목\x00에 NUL\x07\x1b[31m\n\n도배지\x00 들뜸은\x0b 풀칠이 부족할 때\u0085 생깁니다.\t끝.",
        encoding="utf-8",
    )
    code, out, err = cli("docs", "add", str(txt), "--note", "메모\x00\x01")
    assert code == 0, err
    with session_scope(db_url) as s:
        doc = s.scalars(select(Document)).one()
        assert doc.text == "제목에 NUL[31m\n\n도배지 들뜸은 풀칠이 부족할 때 생깁니다.\t끝."
        assert doc.title == "제목에 NUL[31m" and doc.note == "메모"
        assert all(doc.text[c.start_char : c.end_char] == c.text for c in doc.chunks)


@POSTGRES_ONLY
def test_two_adds_of_one_file_at_once_in_two_processes(db_url, tmp_path):
    """Two real `dobae docs add` processes (≈ 20 s each on a loaded 2-core machine): PostgreSQL,
    where they truly interleave (SQLite writers take turns); the forced race below covers both."""
    md = tmp_path / "guide.md"
    md.write_text(TEXT * 20, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOBAE_DATABASE_URL": db_url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dobae.cli", "docs", "add", str(md)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert all(code == 0 and "Traceback" not in err for code, err in results), results
    assert len(_docs(db_url)) == 1


def test_a_concurrent_add_that_commits_first_is_found_on_the_retry(db_url, tmp_path, monkeypatch):
    """The race itself, forced: the row is not visible when this add checks, so its INSERT hits
    the unique sha256 (IntegrityError); the add retries and reports the document unchanged."""
    md = tmp_path / "guide.md"
    md.write_text(TEXT, encoding="utf-8")
    real = documents._existing_in
    calls = []

    def blind_once(s, digest):
        calls.append(digest)
        if len(calls) == 1:  # the other command commits just after this check
            with session_scope(db_url) as other:
                other.add(Document(sha256=digest, source="other", kind="markdown", text="x"))
            return None
        return real(s, digest)

    monkeypatch.setattr(documents, "_existing_in", blind_once)
    res = add_documents([md])
    assert not res.added and [src for src, _ in res.unchanged] == [str(md)] and len(calls) == 2
    assert [d[1] for d in _docs(db_url)] == ["other"]


def test_long_paragraphs_are_split_in_bounded_windows(monkeypatch):
    text = ("벽지가 들뜨면 초배지를 다시 붙여야 합니다 " * 400) + "가" * 5000 + " 끝."
    pieces = windows(text)
    assert "".join(p for _, p in pieces) == text and all(text[o : o + len(p)] == p for o, p in pieces)
    assert max(len(p) for _, p in pieces) <= WINDOW_CHARS and len(pieces) >= len(text) // WINDOW_CHARS
    seen = spy_on_kiwi(monkeypatch)
    chunks = make_chunks(text, 350, 120)
    assert max(seen) <= WINDOW_CHARS and sum(seen) == len(text)
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_the_chunk_cap_keeps_the_first_chunks_splits_no_further_and_warns(
    sqlite_url, tmp_path, cli, monkeypatch
):
    from foundation.settings import reset_settings

    monkeypatch.setenv("DOBAE_AUGMENT__DOCS__MAX_CHUNKS", "3")
    monkeypatch.setenv("DOBAE_AUGMENT__DOCS__CHUNK_CHARS", "100")
    reset_settings()
    big = tmp_path / "big.txt"
    big.write_text(
        "\n\n".join(f"{i}번 문단입니다. 도배지 들뜸은 풀칠이 부족할 때 생깁니다." for i in range(2000)),
        "utf-8",
    )
    seen = spy_on_kiwi(monkeypatch)
    code, out, err = cli("docs", "add", str(big))
    assert code == 0, err
    one = " ".join(err.split())
    assert "added document #1" in one and "(3 chunks)" in one
    assert (
        "warning: " in one
        and "more than DOBAE_AUGMENT__DOCS__MAX_CHUNKS=3 chunks: only the first 3 are kept" in one
    )
    assert _chunk_count(sqlite_url) == 3
    assert sum(seen) < 1000  # a few paragraphs split, not 2,000


def _pdf(path: Path, user_password: str | None) -> Path:
    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(
        0, 6, "Wallpaper guide. Bubbles appear when the paste is too thin. Mould follows condensation."
    )
    plain = path.with_suffix(".plain.pdf")
    pdf.output(str(plain))
    writer = PdfWriter(clone_from=PdfReader(plain))
    if user_password is not None:
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    writer.write(path)
    return path


def test_an_encrypted_pdf_says_it_needs_a_password(sqlite_url, tmp_path, cli):
    locked = _pdf(tmp_path / "locked.pdf", "secret")
    code, out, err = cli("docs", "add", str(locked))
    assert code == 1 and err.strip() == (
        f"error: {locked}: the PDF is encrypted and needs a password: save a copy without one "
        "(e.g. qpdf --decrypt --password=PASSWORD in.pdf out.pdf) and add that"
    )
    open_ = _pdf(tmp_path / "owner-only.pdf", "")  # encrypted, but opens without a password
    code, out, err = cli("docs", "add", str(open_))
    assert code == 0, err
    assert "Wallpaper guide." in _docs(sqlite_url)[0][2]


def spy_on_kiwi(monkeypatch) -> list[int]:
    """The lengths of the pieces handed to Kiwi's sentence splitter (which still splits them)."""
    seen: list[int] = []
    real = doc_chunking.kiwi

    class Spy:
        def split_into_sents(self, piece):
            seen.append(len(piece))
            return real().split_into_sents(piece)

    monkeypatch.setattr(doc_chunking, "kiwi", Spy)
    return seen
