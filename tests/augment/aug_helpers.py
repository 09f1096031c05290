"""Helpers of the augment tests: hand-written Korean pairs, a tiny model builder, DB and settings setup."""

from __future__ import annotations

# Written for these tests: realistic 도배 하자 questions and answers (two groups share a category).
PAIRS = [
    (
        "g1",
        "마감하자",
        "도배지에 곰팡이가 생기는 원인은 무엇인가요?",
        "도배지 곰팡이는 주로 결로와 환기 부족으로 벽체에 습기가 차서 생깁니다. 단열을 보강하고 자주 환기하면 예방할 수 있습니다.",
    ),
    (
        "g2",
        "마감하자",
        "벽지가 들뜨는 이유가 뭔가요?",
        "벽지 들뜸은 초배 작업이 부실하거나 풀이 충분히 마르기 전에 습기를 먹었을 때 생깁니다. 들뜬 부분은 주사기로 풀을 넣어 눌러 붙이면 됩니다.",
    ),
    (
        "g3",
        "마감재",
        "석고보드 이음새에 금이 가면 어떻게 보수하나요?",
        "석고보드 이음새 균열은 조인트 테이프를 붙이고 퍼티를 두세 번 얇게 발라 평활하게 만든 뒤 도배하면 보수됩니다.",
    ),
    (
        "g4",
        "시공",
        "걸레받이와 벽 사이 틈은 무엇으로 메우나요?",
        "걸레받이와 벽 사이의 틈은 실리콘이나 코킹재로 메우며, 먼지를 닦고 마스킹테이프를 붙인 뒤 시공하면 깔끔합니다.",
    ),
]


def build_tiny_model(path) -> str:
    """A 2-layer Qwen2 with a byte-level BPE tokenizer trained on a few local lines (≈ 5 s, offline).
    Random weights: its outputs are garbage, which is what the gates must catch."""
    from train.tiny import CHATML_TEMPLATE, TinyShape, build_tiny_causal_lm

    lines = [q + " " + a for _, _, q, a in PAIRS] * 20 + ['{"formal": ["질문"], "colloquial": ["질문"]}'] * 20
    return str(
        build_tiny_causal_lm(
            path,
            lines,
            special_tokens=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
            shape=TinyShape(initializer_range=None),
            chat_template=CHATML_TEMPLATE,
            generation_defaults={"do_sample": False},
        )
    )


def insert_pairs(url: str, rows=PAIRS, origin: str = "dacon", test_questions: list[str] = ()) -> list[int]:
    """Insert `rows` (group, category, question, answer) as pairs; test questions as split=test pairs."""
    from db.models import Origin, QAPair, Split
    from db.session import session_scope

    ids = []
    with session_scope(url) as s:
        for i, (group, cat, q, a) in enumerate(rows):
            p = QAPair(
                key=f"t:{group}:{i}",
                question_text=q,
                answer_text=a,
                category=cat,
                origin=Origin(origin),
                group_id=group,
                split=Split.train,
            )
            s.add(p)
            s.flush()
            ids.append(p.id)
        for j, q in enumerate(test_questions):
            s.add(
                QAPair(
                    key=f"test:{j}",
                    question_text=q,
                    answer_text="",
                    origin=Origin.dacon,
                    group_id=f"test{j}",
                    split=Split.test,
                )
            )
    return ids


def llm_env(monkeypatch, base_url: str, model: str = "", **extra: str) -> None:
    """Point the settings at a server (fast retries for tests)."""
    from foundation.settings import reset_settings

    monkeypatch.setenv("DOBAE_LLM__BASE_URL", base_url)
    monkeypatch.setenv("DOBAE_LLM__MODEL", model)
    monkeypatch.setenv("DOBAE_AUGMENT__BACKOFF_BASE_S", "0.01")
    for k, v in extra.items():
        monkeypatch.setenv(k, v)
    reset_settings()
