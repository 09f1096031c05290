"""Property-based tests (Hypothesis) of the importers, the review round trip and the CSV guard.

Texts are random Unicode with what real files carry: NFD 한글 (macOS), zero-width characters, RTL
marks, emoji, separators, quotes, line breaks, placeholders (`NaN`, `-`), empty and huge cells.
Invariants: an import ends in one clear error and nothing written, or in exactly the input's
rows; export → review import changes nothing. Examples are few (fast); each example uses its own
source name or pairs, so the one database of a test holds them all.
`DOBAE_PROPERTY_EXAMPLES=500 pytest tests/db/test_properties.py` searches deeper.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import unicodedata

import pandas as pd
import pytest
from db_helpers import TRAIN_HEADER
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from db.dacon import MAX_CHARS, import_dacon, pair_key
from db.export import export_pairs
from db.models import Origin, QAPair, Question, Review, ReviewEvent
from db.review import import_review_file, set_review
from db.session import session_scope
from db.spreadsheet import TRIGGERS, neutralise, restore
from db.tabular import MAX_CELL_CHARS, clean, missing, read_csv
from foundation.errors import InputError

PROPS = settings(  # DOBAE_PROPERTY_EXAMPLES=500 for a deeper search than the suite's quick one
    max_examples=int(os.environ.get("DOBAE_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HANGUL = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
NFD_HANGUL = HANGUL.map(lambda c: unicodedata.normalize("NFD", c))
SPECIAL = st.sampled_from(
    [
        "\u200b", "\u200c", "\u200d", "\ufeff", "\u2060",  # zero-width, BOM
        "\u200e", "\u200f", "\u202e", "\u2067",  # LRM, RLM, RTL override, RTL isolate
        "😀", "👨\u200d👩\u200d👧", "👍🏽", "❤️",  # emoji, ZWJ sequence, skin tone, VS16
        ",", ";", "\t", "|", '"', "'", "\n", "\r\n", "\r", " ", "\u3000", "\u00a0",
        "=", "+", "-", "@", "=HYPERLINK(\"http://127.0.0.1\")", "도배", "벽지",
    ]
)  # fmt: skip
ANY = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
CHUNK = st.one_of(HANGUL, NFD_HANGUL, SPECIAL, ANY)
TEXT = st.lists(CHUNK, max_size=25).map("".join)
PLACEHOLDER = st.sampled_from(["NaN", "nan", "None", "null", "NULL", "-", "", " ", "\u200b"])
# a text with something visible: a syllable (NFC or NFD) somewhere in random Unicode, or any random text that has one
GOOD = st.one_of(
    st.tuples(TEXT, st.one_of(HANGUL, NFD_HANGUL, st.just("😀")), TEXT).map("".join),
    st.lists(CHUNK, min_size=1, max_size=25).map("".join).filter(lambda t: not missing(clean(t))),
)
BAD = st.one_of(PLACEHOLDER, st.just("가" * (MAX_CELL_CHARS + 1)))  # missing, or one over the limit
GOOD_ROWS = st.lists(st.lists(GOOD, min_size=9, max_size=9), min_size=1, max_size=4)
# a good file, or a good file with one cell (or the id of a duplicate row) made bad
FILES = st.one_of(
    GOOD_ROWS,
    st.tuples(GOOD_ROWS, st.integers(0, 8), BAD).map(
        lambda t: [*t[0][:-1], [*t[0][-1][: t[1]], t[2], *t[0][-1][t[1] + 1 :]]]
    ),
    GOOD_ROWS.map(lambda rows: [*rows, [rows[0][0], *rows[-1][1:]]]),
)


def _write_train(path, rows, bom: bool) -> None:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        w = csv.writer(f)  # the csv module's default: CRLF rows, quotes where needed (like a spreadsheet)
        w.writerow(TRAIN_HEADER)
        w.writerows(rows)


def _valid(rows) -> bool:
    """Would a careful reader accept every cell? (non-empty, not a placeholder, within the limits)"""
    ids = [clean(r[0]) for r in rows]
    if not rows or len(set(ids)) != len(ids):
        return False
    for r in rows:
        for col, cell in zip(TRAIN_HEADER, r, strict=True):
            if missing(clean(cell)) or len(cell) > MAX_CELL_CHARS:
                return False
            if col in MAX_CHARS and len(clean(cell)) > MAX_CHARS[col]:
                return False
    return True


def _totals(url):
    with session_scope(url) as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) for t in (QAPair, Question, Review, ReviewEvent)
        )


_counter = itertools.count()


@PROPS
@given(rows=FILES, bom=st.booleans())
def test_dacon_import_is_one_clear_error_or_exactly_the_rows(db_url, tmp_path, rows, bom):
    source = f"prop{next(_counter)}"
    path = tmp_path / f"{source}.csv"
    _write_train(path, rows, bom)
    before = _totals(db_url)
    valid = _valid(rows)
    event("valid file" if valid else "bad file")
    try:
        summary = import_dacon(path, url=db_url, source=source)
    except InputError as exc:
        msg = str(exc)
        assert not valid, f"refused a valid file: {msg}"
        assert "\n" not in msg and msg.startswith(str(path)), msg
        assert _totals(db_url) == before, "a refused file wrote something"
        return
    assert valid, "accepted a file with an empty, placeholder or over-long cell"
    assert summary.pairs_added == 10 * len(rows)
    expected = {}
    for r in rows:
        rid, q1, q2, cat, *answers = (clean(c) for c in r)
        for qi, q in enumerate((q1, q2), 1):
            for aj, a in enumerate(answers, 1):
                expected[pair_key(source, rid, qi, aj)] = (q, a, cat)
    with session_scope(db_url) as s:
        got = {
            k: (q, a, c)
            for k, q, a, c in s.execute(
                select(QAPair.key, QAPair.question_text, QAPair.answer_text, QAPair.category).where(
                    QAPair.key.startswith(f"{source}:")
                )
            )
        }
    assert got == expected
    assert all(unicodedata.is_normalized("NFC", q + a + c) for q, a, c in got.values())


REVIEW_TEXT = GOOD


@PROPS
@given(
    texts=st.lists(st.tuples(REVIEW_TEXT, REVIEW_TEXT, st.one_of(st.none(), TEXT)), min_size=1, max_size=4),
    fmt=st.sampled_from(["csv", "jsonl", "parquet"]),
)
@example(texts=[("가", "나", "\u200b")], fmt="csv")  # found by this test: an invisible note read as an edit
@example(texts=[("\t=SUM(A1)", "\r@x", "-")], fmt="csv")
def test_export_then_review_import_changes_nothing(db_url, tmp_path, texts, fmt):
    n = next(_counter)
    with session_scope(db_url) as s:
        for i, (q, a, note) in enumerate(texts):
            p = QAPair(key=f"prop{n}:{i}", question_text=q, answer_text=a, category=f"prop{n}",
                       origin=Origin.manual, group_id=f"prop{n}")  # fmt: skip
            s.add(p)
            s.flush()
            set_review(s, p.id, "needs_review", ["near_duplicate"], actor="kim", note=note)
    before = _totals(db_url)
    with session_scope(db_url) as s:
        snapshot = s.execute(
            select(QAPair.id, QAPair.question_text, QAPair.answer_text, QAPair.version)
        ).all()
    out = export_pairs(tmp_path / f"p{n}.{fmt}", statuses=["all"], categories=[f"prop{n}"], url=db_url).path
    if fmt == "csv":
        with out.open(encoding="utf-8", newline="") as f:
            assert not [c for row in csv.reader(f) for c in row if c.startswith(TRIGGERS)]
    summary = import_review_file(out, reviewer="kim", url=db_url)
    assert (summary.rows, summary.changed) == (len(texts), 0)
    assert _totals(db_url) == before
    with session_scope(db_url) as s:
        after = s.execute(select(QAPair.id, QAPair.question_text, QAPair.answer_text, QAPair.version)).all()
    assert after == snapshot


@PROPS
@given(text=st.one_of(TEXT, st.sampled_from(["'", "''", "'=", "'-1", "=1+2", "@", "\t\t", "\r"])))
def test_neutralise_restore_is_the_identity(text):
    guarded = neutralise(text)
    assert restore(guarded) == text
    assert not guarded.startswith(TRIGGERS)
    if not text.startswith((*TRIGGERS, "'")):
        assert guarded == text


@PROPS
@given(cells=st.lists(TEXT, min_size=1, max_size=6))
@example(cells=["\r\n"])  # found by this test: a guarded CR alone came back as a lone apostrophe
def test_guarded_cells_survive_a_csv_file(tmp_path, cells):
    """Written as `dobae export` writes CSV, read back as the review import reads it."""
    path = tmp_path / "cells.csv"
    df = pd.DataFrame({"id": range(len(cells)), "text": [neutralise(c) for c in cells]})
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\r\n")
    table = read_csv(path)
    back = [clean(restore(r.values["text"])) for r in table.records]
    assert back == [clean(c) for c in cells]


@PROPS
@given(value=st.one_of(PLACEHOLDER, TEXT, st.none(), st.just(float("nan"))))
def test_missing_means_no_visible_text_or_a_placeholder(value):
    why = missing(value)
    if value is None or value != value:
        assert why == "empty"
        return
    visible = "".join(
        ch for ch in value if ch not in "\u200b\u200c\u200d\u2060\ufeff\u180e\u00ad\u200e\u200f"
    )
    if not visible.strip():
        assert why == "empty"
    elif value.strip().casefold() in {"nan", "none", "null", "-"}:
        assert "placeholder" in why
    else:
        assert why is None


@pytest.mark.parametrize("fmt", ["jsonl"])
@PROPS
@given(texts=st.lists(REVIEW_TEXT, min_size=1, max_size=3))
def test_jsonl_export_keeps_texts_byte_for_byte(db_url, tmp_path, texts, fmt):
    """No formula guard in JSONL: the text is written as stored, but for the contact-details mask
    that every export applies (phone numbers, URLs, e-mail and messenger ids: `db.contact`)."""
    from db.contact import mask_contacts

    n = next(_counter)
    with session_scope(db_url) as s:
        s.add_all(
            QAPair(
                key=f"raw{n}:{i}", question_text=t, answer_text=t, origin=Origin.manual, group_id=f"raw{n}"
            )
            for i, t in enumerate(texts)
        )
    out = export_pairs(tmp_path / f"r{n}.{fmt}", statuses=["pending"], url=db_url).path
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    mine = [r["question"] for r in rows if r["key"].startswith(f"raw{n}:")]
    assert mine == [mask_contacts(t) for t in texts]
