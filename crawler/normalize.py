"""Text, date, count and URL normalisation for crawled Korean Q&A.

Pure functions, no Scrapy: HTML → plain text that keeps paragraph breaks; entities (also
double-escaped ones such as ``&amp;lt;br&amp;gt;``); NFC (NFD 한글 from macOS uploads becomes NFC);
zero-width and control characters removed (a ZWJ inside an emoji sequence is kept); Korean relative and
absolute dates → timezone-aware UTC, read as KST (the source's zone) against a reference time;
"1.2만" / "조회 1,234" → integers; canonical URLs without tracking parameters.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import lxml.html

KST = timezone(timedelta(hours=9), "KST")

# --------------------------------------------------------------------------- text

_ZERO_WIDTH = {"\u200b", "\u200c", "\u2060", "\ufeff", "\u180e", "\u00ad"}
_ZWJ = "\u200d"
_BLOCK_TAGS = {
    "p", "div", "li", "ul", "ol", "section", "article", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
    "tr", "table", "pre", "figure", "header", "footer",
}  # fmt: skip
_DOUBLE_ESCAPED = re.compile(r"&amp;(?:[a-zA-Z]{2,8}|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_ESCAPED_TAG = re.compile(r"&lt;(/?(?:br|p|div|b|i|u|span|strong|em)\b[^&<>]{0,80}?/?)&gt;", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
# control characters and XML non-characters: noise in text, fatal to lxml. Tab, LF and CR stay;
# vertical tab and form feed separate words, so they become spaces.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f\ufffe\uffff]")


def _no_controls(text: str) -> str:
    return _CONTROL.sub("", text).replace("\x0b", " ").replace("\x0c", " ")


def _is_emoji_side(ch: str) -> bool:
    """Emoji, variation selectors and skin-tone modifiers (the neighbours of a ZWJ that must stay)."""
    cp = ord(ch)
    return cp >= 0x1F000 or 0x2600 <= cp <= 0x27BF or cp == 0xFE0F or 0x1F3FB <= cp <= 0x1F3FF


def remove_zero_width(text: str) -> str:
    """Drop zero-width spaces/joiners/BOMs; keep a ZWJ between two emoji (👨‍👩‍👧 stays one glyph)."""
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch in _ZERO_WIDTH:
            continue
        if ch == _ZWJ:
            prev = text[i - 1] if i else ""
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if not (prev and nxt and _is_emoji_side(prev) and _is_emoji_side(nxt)):
                continue
        out.append(ch)
    return "".join(out)


def clean_text(text: str | None, unescape: bool = True) -> str | None:
    """Entities decoded, NFC, zero-width removal, spaces collapsed per line, one blank line at most."""
    if text is None:
        return None
    if unescape and "&" in text:
        text = html.unescape(text)
    text = unicodedata.normalize("NFC", _no_controls(text))
    text = remove_zero_width(text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _unescape_double(text: str) -> str:
    """`&amp;lt;br&amp;gt;` (HTML escaped twice by the site) → `&lt;br&gt;` → parsed as markup."""
    while _DOUBLE_ESCAPED.search(text):
        text = _DOUBLE_ESCAPED.sub(lambda m: "&" + m.group(0)[5:], text)
    # markup that arrived escaped once more (`&lt;br&gt;` in the source): make it markup again
    return _ESCAPED_TAG.sub(lambda m: "<" + html.unescape(m.group(1)) + ">", text)


def html_to_text(fragment: str | None) -> str | None:
    """HTML → text: `<br>` is a line break, block elements are paragraphs, images/scripts vanish.

    Unclosed tags are tolerated (lxml repairs them); the result is :func:`clean_text`-ed.
    """
    if fragment is None:
        return None
    fragment = _unescape_double(_no_controls(fragment))
    if "<" not in fragment:
        return clean_text(fragment)
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    parts: list[str] = []

    def walk(el) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("script", "style", "noscript", "template"):
            if el.tail:
                parts.append(el.tail)
            return
        if tag == "br":
            parts.append("\n")
        elif tag in _BLOCK_TAGS:
            parts.append("\n\n")
        if el.text and tag not in ("br",):
            parts.append(el.text)
        for child in el:
            walk(child)
        if tag in _BLOCK_TAGS:
            parts.append("\n\n")
        if el.tail:
            parts.append(el.tail)

    walk(root)
    return clean_text("".join(parts), unescape=False)


def content_hash(data: object) -> str:
    """sha256 of the canonical JSON of `data` (sorted keys, UTF-8): the change-detection key."""
    raw = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- numbers

_COUNT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(만|천|억|k|K|m|M)?")
_UNITS = {
    "천": 1_000,
    "만": 10_000,
    "억": 100_000_000,
    "k": 1_000,
    "K": 1_000,
    "m": 1_000_000,
    "M": 1_000_000,
}


def parse_count(value: object) -> int | None:
    """ "조회 1,234" → 1234, "1.2만" → 12000, "댓글 5" → 5, 17 → 17; None/"" → None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    m = _COUNT.search(unicodedata.normalize("NFC", str(value)))
    if not m:
        return None
    number = float(m.group(1).replace(",", ""))
    return int(round(number * _UNITS.get(m.group(2) or "", 1)))


# --------------------------------------------------------------------------- dates

_REL = re.compile(r"(\d+)\s*(초|분|시간|일|주|개월|달|년)\s*전")
_REL_UNITS = {
    "초": timedelta(seconds=1),
    "분": timedelta(minutes=1),
    "시간": timedelta(hours=1),
    "일": timedelta(days=1),
    "주": timedelta(weeks=1),
    "개월": timedelta(days=30),
    "달": timedelta(days=30),
    "년": timedelta(days=365),
}
_KO_FULL = re.compile(
    r"(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일(?:\s*(오전|오후)?\s*(\d{1,2})\s*[:시]\s*(\d{1,2})?(?:\s*[:분]\s*(\d{1,2}))?)?"
)
_DOTTED = re.compile(
    r"^(\d{2,4})[.\-/]\s*(\d{1,2})[.\-/]\s*(\d{1,2})\.?(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
)
_TIME_ONLY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})[.\-/](\d{1,2})\.?$")


def _kst(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=KST).astimezone(UTC)


def parse_korean_datetime(value: object, now: datetime | None = None) -> datetime | None:
    """A date as Korean sites print it → aware UTC datetime; naive forms are read as KST.

    `now` is the reference time for relative forms ("방금 전", "5분 전", "3시간 전", "어제", "3일 전",
    "09:30:12" = today): pass the response's `Date` or the crawl time. Unparseable → ``None``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=KST)).astimezone(UTC)
    text = unicodedata.normalize("NFC", str(value)).strip()
    if not text:
        return None
    now = (now or datetime.now(UTC)).astimezone(KST)
    iso = text.replace("Z", "+00:00") if text.endswith("Z") else text
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        dt = None
    if dt is not None:
        return (dt if dt.tzinfo else dt.replace(tzinfo=KST)).astimezone(UTC)
    if text in ("방금", "방금 전", "지금", "방금전"):
        return now.astimezone(UTC)
    m = _REL.search(text)
    if m:
        return (now - int(m.group(1)) * _REL_UNITS[m.group(2)]).astimezone(UTC)
    for word, days in (("그저께", 2), ("그제", 2), ("어제", 1), ("오늘", 0)):
        if text.startswith(word):
            day = now - timedelta(days=days)
            t = re.search(r"(\d{1,2}):(\d{2})", text)
            h, mi = (int(t.group(1)), int(t.group(2))) if t else (0, 0)
            return _kst(day.year, day.month, day.day, h, mi)
    m = _KO_FULL.search(text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        h = int(m.group(5) or 0)
        if m.group(4) == "오후" and h < 12:
            h += 12
        elif m.group(4) == "오전" and h == 12:
            h = 0
        return _kst(y, mo, d, h, int(m.group(6) or 0), int(m.group(7) or 0))
    m = _DOTTED.match(text)
    if m:
        y = int(m.group(1))
        y = y + 2000 if y < 100 else y
        return _kst(
            y,
            int(m.group(2)),
            int(m.group(3)),
            int(m.group(4) or 0),
            int(m.group(5) or 0),
            int(m.group(6) or 0),
        )
    m = _TIME_ONLY.match(text)
    if m:  # 82cook-style boards print today's posts as HH:MM:SS
        return _kst(now.year, now.month, now.day, int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    m = _MONTH_DAY.match(text)
    if m:
        return _kst(now.year, int(m.group(1)), int(m.group(2)))
    return None


# --------------------------------------------------------------------------- URLs

TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|affect_id|affect_type|ref|ref_src|from|_ga|source)$")


def canonical_url(url: str, drop: re.Pattern[str] = TRACKING_PARAMS) -> str:
    """Lower-case host, no fragment, no tracking or empty parameters, sorted query, no trailing slash."""
    parts = urlsplit(url.strip())
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = sorted((k, v) for k, v in pairs if v != "" and not drop.match(k))
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))
