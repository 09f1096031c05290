"""Contact details in crawled text: phone numbers, URLs, e-mail addresses and messenger ids.

`find_contacts(text)` names what a text holds (the crawl curation flags it); `mask_contacts(text)`
replaces each with a placeholder (`dobae export` writes masked texts, so no phone number or
messenger id reaches a reviewer's spreadsheet or a training file). A reviewer's import of a masked
export is not a text edit: `db.review` compares against the masked database text too.
"""

from __future__ import annotations

import re
from typing import overload

# Korean numbers: mobile 010-1234-5678, area 02-123-4567 / 031.123.4567, nationwide 1588-1234, +82 10 …
PHONE = re.compile(
    r"(?<![\d.])(?:\+82[\s.-]?|0)(?:1[016789]|2|[3-6][1-5]|70|50\d)[\s.)-]?\d{3,4}[\s.-]?\d{4}(?!\d)"
    r"|(?<!\d)1[568]\d{2}[\s.-]\d{4}(?!\d)"
)
URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'()]+"
    r"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|kr|co\.kr|me|io|ly|link|shop|store)\b(?:/[^\s<>\"']*)?",
    re.I,
)
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# 카톡 아이디 abc123 / 카카오톡ID: abc / 오픈채팅 … / 텔레그램 @abc / 라인 id abc
MESSENGER = re.compile(
    r"(?:카톡|카카오톡|kakao(?:talk)?|텔레그램|telegram|오픈\s*채팅|오픈톡|위챗|wechat)\s*(?:아이디|id)?\s*[:：]?\s*@?"
    r"(?=[A-Za-z0-9_.-]*[A-Za-z])[A-Za-z0-9_.-]{3,}"
    r"|(?:라인|line|카카오)\s*(?:아이디|id)\s*[:：]?\s*@?[A-Za-z0-9_.-]{3,}",
    re.I,
)
# a bare @handle; not a spreadsheet function such as @SUM(1) (a name followed by a parenthesis)
HANDLE = re.compile(r"(?<![\w@])@(?![A-Za-z0-9_.]*\()[A-Za-z][A-Za-z0-9_.]{2,}")

PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    # order matters: an e-mail before its domain is taken for a URL, a URL before a bare handle
    "email": (EMAIL, "[이메일]"),
    "url": (URL, "[링크]"),
    "messenger": (MESSENGER, "[메신저 아이디]"),
    "phone": (PHONE, "[전화번호]"),
    "handle": (HANDLE, "[메신저 아이디]"),
}


def find_contacts(text: str) -> list[str]:
    """Kinds of contact detail in `text`, e.g. ["phone", "url"] (each kind once, in PATTERNS order)."""
    found = []
    rest = text or ""
    for kind, (pattern, placeholder) in PATTERNS.items():
        if pattern.search(rest):
            found.append(kind)
            rest = pattern.sub(placeholder, rest)
    return found


@overload
def mask_contacts(text: str) -> str: ...
@overload
def mask_contacts(text: None) -> None: ...
def mask_contacts(text: str | None) -> str | None:
    """`text` with every contact detail replaced by a placeholder such as [전화번호]."""
    if not text:
        return text
    for pattern, placeholder in PATTERNS.values():
        text = pattern.sub(placeholder, text)
    return text
