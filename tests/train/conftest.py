"""Fixtures of the train tests: a tiny causal LM built at test time (byte-level BPE tokenizer +
2-layer Qwen2), a tiny export written by the test, and a config writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# (group, question, answers) — short, realistic 도배 Q&A written for these tests
ITEMS = [
    (
        "g1",
        "벽지가 들뜨는 원인은 무엇인가요?",
        [
            "습기와 접착제 부족으로 벽지가 들뜰 수 있습니다.",
            "벽면의 습기나 풀칠 불량이 들뜸의 주된 원인입니다.",
        ],
    ),
    (
        "g2",
        "곰팡이가 핀 벽지는 어떻게 처리하나요?",
        [
            "곰팡이 제거제로 닦고 충분히 말린 뒤 새로 도배합니다.",
            "벽지를 떼어 곰팡이를 제거하고 방습 처리 후 다시 시공합니다.",
        ],
    ),
    (
        "g3",
        "실크벽지와 합지벽지의 차이는 무엇인가요?",
        [
            "실크벽지는 PVC 코팅으로 오염에 강하고 합지벽지는 종이라 저렴합니다.",
            "합지는 종이 벽지라 값이 싸고 실크는 코팅되어 물청소가 됩니다.",
        ],
    ),
    (
        "g4",
        "도배 후 벽지 이음새가 벌어졌어요.",
        [
            "건조 중 수축으로 이음새가 벌어질 수 있어 보수 시공이 필요합니다.",
            "벽지가 마르며 줄어들면 이음매가 벌어지니 부분 보수를 합니다.",
        ],
    ),
    (
        "g5",
        "타일 줄눈이 갈라지는 이유가 뭔가요?",
        [
            "줄눈재 배합 불량이나 건물 진동으로 줄눈이 갈라집니다.",
            "줄눈 시공 때 물 비율이 맞지 않으면 균열이 생깁니다.",
        ],
    ),
    (
        "g6",
        "장판이 들뜨면 어떻게 하나요?",
        [
            "바닥 습기를 말리고 전용 접착제로 다시 붙입니다.",
            "장판 아래 습기를 제거한 뒤 재시공하는 것이 좋습니다.",
        ],
    ),
]


def export_rows() -> list[dict]:
    rows, n = [], 0
    for gid, q, answers in ITEMS:
        for a in answers:
            n += 1
            rows.append(
                {
                    "id": n,
                    "key": f"k{n}",
                    "group_id": gid,
                    "question": q,
                    "answer": a,
                    "category": "마감하자",
                    "origin": "dacon",
                    "status": "approved",
                }
            )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def export_file(tmp_path) -> Path:
    return write_jsonl(tmp_path / "approved.jsonl", export_rows())


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer Qwen2 (hidden 64) with a byte-level BPE tokenizer trained on the test items."""
    from qa.prompt import ANSWER_PREFIX, QUESTION_PREFIX
    from train.tiny import TinyShape, build_tiny_causal_lm

    lines = []
    for _, q, answers in ITEMS:
        lines += [f"{QUESTION_PREFIX}{q}\n{ANSWER_PREFIX}{a}" for a in answers]
    return build_tiny_causal_lm(
        tmp_path_factory.mktemp("tiny-qwen2"), lines * 20, shape=TinyShape(max_position_embeddings=256)
    )


@pytest.fixture
def isolated_settings(tmp_path, monkeypatch):
    """Settings pointing at a private data dir (database, cache) for this test."""
    from foundation.settings import reset_settings

    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DOBAE_DATABASE_URL", raising=False)
    reset_settings()
    yield tmp_path / "data"
    reset_settings()


def write_config(path: Path, *, model: Path, export: Path, out: Path, extra: str = "") -> Path:
    path.write_text(
        f"""base_model = "{model}"
[data]
export = "{export}"
val_fraction = 0.34
[lora]
r = 4
alpha = 8
dropout = 0.0
[train]
max_steps = 6
batch_size = 4
learning_rate = 5e-3
max_length = 64
eval_steps = 3
save_steps = 3
logging_steps = 1
threads = 1
[metric]
max_questions = 2
max_new_tokens = 8
embedder = "muse3"
[output]
dir = "{out}"
{extra}
""",
        encoding="utf-8",
    )
    return path
