"""Arguments are checked before slow work: `dobae evaluate --add-origin crawls` (a typo), an origin
with no approved pairs, `--answerer llm` without `--run` (evaluate and submit) are refused before
the rows are loaded, the embedder is loaded or any CV runs. And a category with `[/x]` no longer
ends `dobae evaluate` in a traceback after its CV (the evaluation is stored)."""

from __future__ import annotations

import pytest


@pytest.fixture
def filled_db(db_url, train_csv):
    from db.dacon import import_dacon

    import_dacon(train_csv, url=db_url)
    return db_url


@pytest.fixture
def no_slow_work(monkeypatch):
    """Loading the rows or the embedder fails the test: the refusal must come first."""
    import infer.evaluation.cv
    import qa.embedders

    def slow(*args, **kwargs):
        raise AssertionError("slow work started before the arguments were checked")

    monkeypatch.setattr(infer.evaluation.cv, "load_items", slow)
    monkeypatch.setattr(qa.embedders, "load_embedder", slow)


def _line(err: str) -> str:
    assert "Traceback" not in err and "AssertionError" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--add-origin", "crawls"), "error: --add-origin 'crawls': use one of crawl, augment, docs, manual"),
        (("--add-origin", "crawl"), "error: --add-origin crawl: no approved pairs of that source"),
        (("--answerer", "llm"), "error: --answerer llm needs --run RUN_DIR"),
        (("--answerer", "retrievl"), "error: --answerer 'retrievl': use auto or one of "),
        (("--answerer", "llm", "--run", "nowhere"), "error: --run nowhere: not a training run folder"),
    ],
)
def test_evaluate_refuses_bad_arguments_before_any_work(args, says, filled_db, cli, no_slow_work):
    code, out, err = cli("evaluate", *args)
    assert code == 1 and _line(err).startswith(says), err


def test_submit_llm_without_a_run_is_refused_before_the_cv(filled_db, test_csv, cli, no_slow_work, tmp_path):
    test = test_csv
    code, out, err = cli(
        "submit", "--questions", str(test), "--answerer", "llm", "--out", str(tmp_path / "o")
    )
    assert code == 1 and _line(err).startswith("error: --answerer llm needs --run RUN_DIR"), err


def test_evaluate_with_a_hostile_category_stores_the_evaluation(db_url, tmp_path, cli):
    from sqlalchemy import select

    from db.dacon import import_dacon
    from db.models import Evaluation
    from db.session import session_scope

    train = tmp_path / "train.csv"
    rows = ["id,질문_1,질문_2,category,답변_1,답변_2,답변_3,답변_4,답변_5"]
    for i, (cat, q, a) in enumerate(
        [("[/x] 마감", "벽지가 들떠요", "풀칠을 다시 합니다"), ("[bold]곰팡이", "곰팡이가 펴요", "환기를 자주 합니다"),
         ("[/x] 마감", "몰딩이 벌어져요", "실리콘으로 메웁니다"), ("[bold]곰팡이", "결로가 생겨요", "단열을 보강합니다")] * 2
    ):  # fmt: skip
        rows.append(f"TRAIN_{i:03d},{q} {i},{q}?,{cat},{a}.,{a}요.,{a} 됩니다.,{a} 해요.,{a}.")
    train.write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_dacon(train, url=db_url)
    code, out, err = cli("evaluate", "--answerer", "constant", "--folds", "2", "--embedder", "muse3")
    assert code == 0, err
    assert "category [/x] 마감" in " ".join(out.split()) and "[bold]곰팡이" in out
    with session_scope(db_url) as s:
        [row] = s.scalars(select(Evaluation)).all()
        assert set(row.breakdown["by_category"]) == {"[/x] 마감", "[bold]곰팡이"}
