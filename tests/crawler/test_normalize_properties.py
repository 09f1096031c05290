"""Property-based tests (Hypothesis) of the crawler's text normaliser on random Unicode: NFD 한글,
zero-width characters, RTL marks, emoji sequences, separators, quotes, entities and markup."""

from __future__ import annotations

import os
import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crawler.normalize import clean_text, html_to_text, remove_zero_width

PROPS = settings(
    max_examples=int(os.environ.get("DOBAE_PROPERTY_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
HANGUL = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
SPECIAL = st.sampled_from(
    [
        "\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad",  # zero-width, BOM, soft hyphen
        "\u200e", "\u200f", "\u202e",  # LRM, RLM, RTL override
        "😀", "👨\u200d👩\u200d👧", "👍🏽", "❤️",
        " ", "  ", "\t", "\n", "\n\n\n", "\r\n", "\r", "\u3000", "\u00a0",
        ",", ";", '"', "'", "&amp;", "&lt;br&gt;", "&amp;lt;br&amp;gt;", "<br>", "<p>", "</p>", "<b>", "&#44032;",
    ]
)  # fmt: skip
ANY = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
TEXT = st.lists(
    st.one_of(HANGUL, HANGUL.map(lambda c: unicodedata.normalize("NFD", c)), SPECIAL, ANY), max_size=30
).map("".join)
ZERO_WIDTH = set("\u200b\u200c\u2060\ufeff\u180e\u00ad")


def _is_clean(text: str) -> None:
    assert unicodedata.is_normalized("NFC", text)
    assert text == text.strip()
    assert "\r" not in text and "\n\n\n" not in text
    assert not ZERO_WIDTH & set(text)
    assert all(line == line.strip() for line in text.split("\n"))


@PROPS
@given(text=TEXT)
def test_clean_text_is_clean_and_idempotent(text):
    once = clean_text(text, unescape=False)
    _is_clean(once)
    assert clean_text(once, unescape=False) == once
    assert remove_zero_width(once) == once


@PROPS
@given(text=TEXT)
def test_nfd_and_nfc_input_give_the_same_text(text):
    nfd, nfc = unicodedata.normalize("NFD", text), unicodedata.normalize("NFC", text)
    assert clean_text(nfd) == clean_text(nfc)


@PROPS
@given(text=TEXT)
@example(text="</p>\x08")  # found by this test: lxml refused control characters (a crash mid-crawl)
@example(text="벽지\x0c들뜸\ufffe")
def test_html_to_text_never_fails_and_is_clean(text):
    out = html_to_text(text)
    _is_clean(out)
    assert clean_text(out, unescape=False) == out
