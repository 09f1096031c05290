"""`--answerer auto`: the choice rule on its own, and `dobae submit`'s default end to end (real CV of
the extractive answerers on tiny rows, cached in `evaluations`, a LoRA run card that measures low)."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import func, select

from infer.evaluation.auto import Measured, choose


def cands(llm: float | None = None) -> list[Measured]:
    out = [
        Measured("constant", {}, 0.25, "5-fold CV, evaluation #1"),
        Measured("retrieval", {}, 0.51, "5-fold CV, evaluation #2"),
        Measured("compose", {}, 0.56, "5-fold CV, evaluation #3"),
    ]
    if llm is not None:
        out.append(Measured("llm", {"run_dir": "runs/a"}, llm, "run card validation metric"))
    return out


def test_auto_chooses_the_best_measured_answerer():
    c = choose(cands())
    assert (c.name, c.score, c.warning) == ("compose", 0.56, None)
    assert "compose: 0.5600 by 5-fold CV, evaluation #3" == c.reason()
    assert "retrieval 0.5100" in c.table()


def test_a_lora_run_below_the_best_other_is_never_chosen_automatically():
    assert choose(cands(llm=0.003)).name == "compose"
    assert choose(cands(llm=0.55)).name == "compose"
    better = choose(cands(llm=0.60))
    assert better.name == "llm" and better.options == {"run_dir": "runs/a"}


def test_a_named_lora_run_is_used_with_a_warning_giving_both_numbers():
    c = choose(cands(llm=0.003), explicit="llm", explicit_options={"run_dir": "runs/a", "n": 4})
    assert c.name == "llm" and c.options == {"run_dir": "runs/a", "n": 4}
    assert "0.0030" in c.warning and "compose 0.5600" in c.warning
    assert choose(cands(llm=0.60), explicit="llm").warning is None
    unmeasured = choose(cands(llm=None) + [Measured("llm", {}, None, "not measured")], explicit="llm")
    assert "unmeasured" in unmeasured.warning


def _run_card(folder, metric):
    folder.mkdir(parents=True)
    card = {"status": "finished", "name": "tiny", "metrics": {"metric": metric, "metric_questions": 4}}
    (folder / "run_card.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


def test_submit_auto_measures_caches_and_says_which_answerer(db_url, train_csv, test_csv, tmp_path, capsys):
    from db.dacon import import_dacon
    from db.models import Evaluation
    from db.session import session_scope
    from dobae.cli import main

    import_dacon(train_csv, url=db_url)
    run = _run_card(tmp_path / "run", 0.003)
    out = tmp_path / "sub"
    main(
        ["submit", "--questions", str(test_csv), "--out", str(out), "--embedder", "muse3", "--run", str(run)]
    )
    printed = capsys.readouterr().out
    with session_scope(db_url) as s:
        rows = s.execute(select(Evaluation.answerer, Evaluation.mean)).all()
    scores = dict(rows)
    assert set(scores) == {"constant", "retrieval", "compose"}
    best = max(scores, key=scores.get)
    assert best != "constant"
    with open(out / "answered_by.csv", encoding="utf-8") as fh:
        by = list(csv.DictReader(fh))
    assert [r["id"] for r in by] == ["TEST_000", "TEST_001", "TEST_002"]
    assert {r["answered_by"] for r in by} == {best}
    assert by[0]["selected_by"].startswith(f"{best}: {scores[best]:.4f} by ")
    assert f"answerer {best}" in printed and "llm 0.0030" in printed
    meta = json.loads((out / "submission.json").read_text(encoding="utf-8"))
    assert meta["answerer"] == best and meta["selection"]["chosen"] == best

    # a second submission reuses the stored evaluations (same data, configs, embedder, folds, seed)
    main(["submit", "--questions", str(test_csv), "--out", str(out), "--embedder", "muse3", "--force"])
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Evaluation)) == 3


def test_auto_options_without_a_run_are_refused(db_url, train_csv, test_csv, tmp_path, capsys):
    from db.dacon import import_dacon
    from dobae.cli import main

    import_dacon(train_csv, url=db_url)
    with pytest.raises(SystemExit):
        main(["submit", "--questions", str(test_csv), "--out", str(tmp_path / "o"), "-o", "n=4"])
    assert "--run" in capsys.readouterr().err


def test_an_unfinished_lora_run_competes_unmeasured(db_url, train_csv, tmp_path):
    from db.dacon import import_dacon
    from infer.evaluation.auto import auto_choice
    from infer.evaluation.cv import load_items
    from qa.embedders import Muse3Embedder

    import_dacon(train_csv, url=db_url)
    run = _run_card(tmp_path / "run", 0.9)
    card = json.loads((run / "run_card.json").read_text(encoding="utf-8"))
    (run / "run_card.json").write_text(json.dumps({**card, "status": "running"}), encoding="utf-8")
    items = load_items(db_url)
    choice = auto_choice(items, Muse3Embedder(), run_dir=str(run), folds=2, url=db_url)
    llm = next(m for m in choice.measured if m.name == "llm")
    assert llm.mean is None and "not finished" in llm.how and choice.name != "llm"
