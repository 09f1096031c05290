"""`dobae report` shows the latest source ablation (`dobae evaluate --add-origin …`) as a table and a plot."""

from __future__ import annotations


def test_report_shows_the_ablation(filled_db, tmp_path):
    from db.models import Evaluation
    from db.session import session_scope
    from dobae.report import write_report

    rows = [("base", [], 0.0, [0.0, 0.0], 0.51), ("+ crawl", ["crawl"], 0.0123, [-0.004, 0.0291], 0.5223)]
    with session_scope(filled_db) as s:
        for name, sources, delta, ci, mean in rows:
            ab = {"run": "r1", "name": name, "sources": sources, "extra_pairs": 7 * len(sources),
                  "extra_per_fold": [], "delta": delta, "ci95": ci}  # fmt: skip
            s.add(Evaluation(answerer="retrieval", embedder="muse3-w128", data_sha256="1" * 64, folds=5,
                             mean=mean, std=0.01, breakdown={"ablation": ab}))  # fmt: skip
    html = write_report(tmp_path / "r.html", url=filled_db, embedder="none").read_text(encoding="utf-8")
    assert "Data sources" in html and "+ crawl" in html
    assert "+0.0123" in html and "[-0.0040, +0.0291]" in html and "0.5223 ± 0.0100" in html
