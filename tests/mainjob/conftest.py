"""Fixtures for the main-job tests: a small database filled through the real importer and ORM."""

from __future__ import annotations

from pathlib import Path

import pytest

TRAIN_CSV = """id,질문_1,질문_2,category,답변_1,답변_2,답변_3,답변_4,답변_5
TRAIN_000,벽지에 곰팡이가 피면 어떻게 해야 하나요?,벽지 곰팡이는 어떻게 제거하나요?,곰팡이,곰팡이가 핀 벽지는 제거하고 벽면을 소독한 뒤 충분히 말려야 합니다.,벽지를 뜯어내고 락스 희석액으로 닦은 후 건조시킵니다.,곰팡이 부위를 제거하고 방곰팡이 처리 후 새 벽지를 시공합니다.,환기를 자주 하고 곰팡이 제거제로 닦은 다음 다시 도배합니다.,원인인 결로나 누수를 먼저 해결하고 벽지를 교체해야 합니다.
TRAIN_001,도배지가 들뜨는 이유는 무엇인가요?,벽지가 뜨는 원인이 뭔가요?,마감하자,풀이 충분히 발리지 않았거나 바탕면이 습하면 도배지가 들뜹니다.,시공 시 접착력이 약하거나 온도 변화가 크면 벽지가 뜰 수 있습니다.,바탕 처리가 미흡하면 들뜸이 생깁니다. 퍼티 작업을 확인하세요.,습기와 건조가 반복되면 도배지가 수축 팽창하여 들뜹니다.,초배지 시공이 불량하면 벽지가 들뜨는 하자가 생깁니다.
TRAIN_002,석고보드 이음매에 금이 가는 이유는?,석고보드 이음 부분 균열 원인이 뭔가요?,마감하자,이음매 처리에 테이프를 쓰지 않으면 균열이 생길 수 있습니다.,건물의 미세한 움직임 때문에 석고보드 이음매에 금이 갑니다.,퍼티가 충분히 마르기 전에 도배하면 이음매가 갈라집니다.,온습도 변화로 석고보드가 수축해 균열이 생깁니다.,이음매 보강이 부족하면 벽지 표면까지 금이 드러납니다.
"""
TEST_CSV = """id,질문
TEST_000,벽지에 곰팡이가 생겼는데 어떻게 하나요?
TEST_001,도배지가 들뜨는 원인은 무엇인가요? 또한 석고보드 균열은 왜 생기나요?
"""


@pytest.fixture
def dacon_files(tmp_path: Path) -> tuple[Path, Path]:
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    train.write_text(TRAIN_CSV, encoding="utf-8")
    test.write_text(TEST_CSV, encoding="utf-8")
    return train, test


@pytest.fixture
def filled_db(db_url: str, dacon_files) -> str:
    """Imported DACON rows, one crawl run with one crawled question, a rejected augmented pair, a training run and an evaluation."""
    from datetime import UTC, datetime, timedelta

    from db.dacon import import_dacon
    from db.models import (
        CrawlRun,
        Evaluation,
        Origin,
        QAPair,
        Question,
        Review,
        ReviewStatus,
        RunStatus,
        Source,
        TrainingRun,
    )
    from db.session import session_scope

    import_dacon(*dacon_files, url=db_url)
    now = datetime.now(UTC).replace(tzinfo=None)
    with session_scope(db_url) as s:
        run = CrawlRun(spider="ohouse", status=RunStatus.finished, started_at=now - timedelta(hours=1),
                       finished_at=now, stats={"item_scraped_count": 17, "response_received_count": 23,
                                               "db/questions_inserted": 15, "retry/count": 4,
                                               "downloader/response_status_count/200": 21,
                                               "downloader/response_status_count/503": 2})  # fmt: skip
        src = Source(name="ohouse", kind="site", base_url="http://127.0.0.1:1")
        s.add_all([run, src])
        s.flush()
        s.add(Question(source_id=src.id, external_id="1001", crawl_run_id=run.id, title="벽지 들뜸",
                       body="벽지가 들떠요", posted_at=datetime(2026, 4, 3, 9, 30)))  # fmt: skip
        pair = QAPair(key="augment:test:1", question_text="벽지 곰팡이 제거 방법 알려주세요", answer_text="AI 언어 모델로서 답할 수 없습니다.",
                      category="곰팡이", origin=Origin.augment, group_id="dacon:TRAIN_000")  # fmt: skip
        s.add(pair)
        s.flush()
        s.add(Review(pair_id=pair.id, status=ReviewStatus.rejected, reasons=["refusal"], reviewer="machine"))
        s.add(TrainingRun(name="smoke-run", base_model="tiny", output_dir="/nonexistent", status=RunStatus.finished,
                          metrics={"train_loss": 2.5, "eval_loss": 2.4, "metric": 0.41, "steps": 20}))  # fmt: skip
        s.add(Evaluation(answerer="retrieval", embedder="muse3-w128", data_sha256="0" * 64, folds=2, mean=0.5731,
                         std=0.01, breakdown={"by_kind": {"single": 0.6, "double": 0.55},
                                              "by_category": {"곰팡이": 0.62, "마감하자": 0.51}}))  # fmt: skip
    return db_url


def command_tree() -> list[tuple[tuple[str, ...], object]]:
    """(command path, click command) for `dobae` itself and every group and command below it, walked
    from the typer app (the help walker and the usage-error walker cover a new command unedited)."""
    import typer

    from dobae.cli import app

    def walk(cmd, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], object]]:
        found = [(path, cmd)]
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            found.extend(walk(sub, (*path, name)))
        return found

    return walk(typer.main.get_command(app), ())
