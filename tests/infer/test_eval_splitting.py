"""Compound-question splitting on test.csv-like phrasing (sentences written for these tests)."""

from __future__ import annotations

import pytest

from qa.splitting import split_question

SPLIT = [
    (
        "방수 페인트의 종류에는 어떤 것들이 있나요? 또한, 징크판넬의 단점은 무엇인가요?",
        ["방수 페인트의 종류에는 어떤 것들이 있나요?", "징크판넬의 단점은 무엇인가요?"],
    ),
    (
        "강마루는 어떤 재료로 만드나요? 그리고 벽지 얼룩은 어떻게 지우나요?",
        ["강마루는 어떤 재료로 만드나요?", "벽지 얼룩은 어떻게 지우나요?"],
    ),
    (
        "원목마루의 단점을 알려주세요. 그리고 도배지가 남으면 어떻게 처리하나요?",
        ["원목마루의 단점을 알려주세요.", "도배지가 남으면 어떻게 처리하나요?"],
    ),
    (  # no punctuation before 또한, (as in one test row)
        "알루미늄 창호의 단점에 대해 알려주세요 또한, 아이소핑크의 장점은 무엇인가요?",
        ["알루미늄 창호의 단점에 대해 알려주세요", "아이소핑크의 장점은 무엇인가요?"],
    ),
    (  # stray trailing quote and no comma after 또한
        '석고보드는 왜 쓰나요? 또한 퍼티 작업은 몇 번 하나요?"',
        ["석고보드는 왜 쓰나요?", "퍼티 작업은 몇 번 하나요?"],
    ),
]

NOT_SPLIT = [
    "도배지 들뜸이 생기는 가장 흔한 원인은 무엇인가요?",
    # connective inside one sentence
    "건설 공사는 어떤 작업을 포함하는지, 그리고 조적이 무엇인지 설명해줘.",
    "실크벽지는 또한 물걸레 청소가 가능한가요?",
    "밀풀을 쓰는 것이 좋은가요, 그리고 주의할 점은 무엇인가요?",
    # the second sentence leans on the first
    "곰팡이가 생기는 가장 큰 원인은 무엇인가요? 그리고 이를 해결하는 방법을 알려주세요.",
    "결로가 생기는 이유는 무엇인가요? 그리고 이 경우 도배는 어떻게 해야 하나요?",
    # two sentences without a connective; "A와 B의 관계"
    "강마루와 강화마루에 대해 설명해주세요. 각각의 단점은 무엇인가요?",
    "거실을 넓어 보이게 하려면 어떻게 해야 하나요와 조명을 고르는 방법의 관계는 무엇인가요?",
    # 그리고 / 또한 as part of a longer word or name
    "또한벽지라는 제품이 있나요?",
]


@pytest.mark.parametrize(("text", "parts"), SPLIT)
def test_splits_compound_questions(text, parts):
    assert split_question(text) == parts


@pytest.mark.parametrize("text", NOT_SPLIT)
def test_keeps_single_questions_whole(text):
    assert split_question(text) == [text]


def test_nfc_and_trailing_quote():
    import unicodedata

    nfd = unicodedata.normalize("NFD", '벽지가 왜 찢어지나요?"')
    assert split_question(nfd) == ["벽지가 왜 찢어지나요?"]
