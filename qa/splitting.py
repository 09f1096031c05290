"""Split a compound test question into the questions it joins.

About half of the DACON test questions join two questions: "…있나요? 또한, …인가요?" or
"…인가요? 그리고 …알려주세요." We split only where a connective opens a new sentence:
- after a sentence end (? . !): 또한 / 그리고 / 아울러 / 더불어 / 추가로 / 그 외에, with or without a comma;
- after a polite ending "요" without punctuation, only "또한," with its comma ("…알려주세요 또한, …").

Never split:
- a connective inside a sentence ("…포함하는지, 그리고 토목이…", "벽지는 또한 방수가 되나요?");
- a second sentence that leans on the first ("…원인은 무엇인가요? 그리고 이를 해결하는 방법은…"):
  it opens with an anaphor (이를, 이것, 그것, 이 경우 …) and cannot be answered alone;
- "A와 B의 관계는 무엇인가요?" and two sentences without a connective
  ("…설명해주세요. 각각의 단점과 특징은 무엇인가요?").
"""

from __future__ import annotations

import re
import unicodedata

CONNECTIVES = ("또한", "그리고", "아울러", "더불어", "추가로", "그 외에도", "그 외에")
_CONN = "|".join(re.escape(c) for c in CONNECTIVES)
_SPLIT = re.compile(rf"(?:(?<=[?.!])\s*(?:{_CONN})(?=[\s,])\s*,?\s*|(?<=요)\s+또한\s*,\s*)")
_ANAPHOR = re.compile(
    r"^(?:이를|이것|이건|이게|이에|이와|이러한|이런|이|그것|그걸|그게|그런|그러한|그렇다면|그럼|이\s?경우|그\s?경우|이\s?때|그\s?때)(?=[\s,은는을를이가의에와도]|$)"
)
_TRAILING_JUNK = re.compile(r'["\'\s]+$')


def clean_question(text: str) -> str:
    """NFC, surrounding space and stray trailing quotes (several test rows end in `"`) removed."""
    return _TRAILING_JUNK.sub("", unicodedata.normalize("NFC", text).strip())


def split_question(text: str) -> list[str]:
    """The parts of a compound question (one part when it is not compound)."""
    text = clean_question(text)
    parts: list[str] = []
    pos = 0
    for m in _SPLIT.finditer(text):
        head, rest = text[pos : m.start()].strip(), text[m.end() :].strip()
        if not head or not rest or _ANAPHOR.match(rest):
            continue
        parts.append(head)
        pos = m.end()
    tail = text[pos:].strip()
    if tail:
        parts.append(tail)
    return parts or [text]
