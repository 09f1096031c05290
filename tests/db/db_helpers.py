"""Tiny DACON-format files the database-stage tests write themselves."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

TRAIN_HEADER = ["id", "질문_1", "질문_2", "category", "답변_1", "답변_2", "답변_3", "답변_4", "답변_5"]

# (질문_1, 질문_2, category, first words of the answers); every answer gets a distinct ending
_ITEMS = [
    ("도배지가 들뜨는 이유는?", "벽지가 왜 떠요?", "마감하자", "풀칠 부족과 바탕면 습기 때문입니다"),
    ("실크벽지는 무엇인가요?", "실크 벽지가 뭐예요?", "마감재", "PVC 코팅을 한 벽지입니다"),
    ("초배지의 역할은?", "초배지 꼭 붙여요?", "마감재", "바탕면을 고르게 해 줍니다"),
    ("결로는 왜 생기나요?", "벽에 물이 맺혀요", "건축구조", "차가운 벽에 습기가 닿아 생깁니다"),
]


def train_rows(n: int = 3, prefix: str = "TRAIN") -> list[list[str]]:
    rows = []
    for i in range(n):
        q1, q2, cat, ans = _ITEMS[i % len(_ITEMS)]
        rows.append([f"{prefix}_{i:03d}", q1, q2, cat] + [f"{ans} ({i}-{j})" for j in range(1, 6)])
    return rows


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]], bom: bool = False) -> Path:
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path
