"""Fixtures for the database-stage tests (files written by the tests, the CLI in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest
from db_helpers import TRAIN_HEADER, train_rows, write_csv


@pytest.fixture
def train_csv(tmp_path) -> Path:
    return write_csv(tmp_path / "train.csv", TRAIN_HEADER, train_rows(3))


@pytest.fixture
def test_csv(tmp_path) -> Path:
    rows = [["TEST_000", "벽지가 들떠요. 또한, 곰팡이는 어떻게 막나요?"], ["TEST_001", "합지벽지의 장점은?"]]
    return write_csv(tmp_path / "test.csv", ["id", "질문"], rows, bom=True)
