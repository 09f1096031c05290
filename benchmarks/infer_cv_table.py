"""The inference evaluation table: constant, retrieval, LLM, LLM + retrieved context,
LLM + context + candidate selection, on held-out DACON rows with the proxy metric (mUSE v3).

    python benchmarks/infer_cv_table.py --run RUN_DIR --fold 0 --questions 24

Honest by construction: RUN_DIR must have been trained on the OTHER folds' rows only (same
grouped folds as `dobae evaluate`: `infer.cv.make_folds(items, k, seed)`); the script checks that no
held-out question is in the run's training data. Questions are the test-like evaluation questions
of that fold (`infer.cv.eval_questions`: single + joined double questions), a seeded subset of
`--questions` of them when generation is too slow for all. Every answerer is fitted on the other
folds' pairs (`infer.cv.train_pairs`) and scored with `infer.scoring.score_texts`.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "dacon" / "dev.csv"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

CONFIGS = {
    "constant": ("constant", {}),
    "retrieval": ("retrieval", {}),
    "llm": ("llm", {"n": 1, "context_k": 0}),
    "llm+context": ("llm", {"n": 1, "context_k": 3}),
    "llm+select": ("llm", {"n": 4, "context_k": 0, "select": "reference"}),
    "llm+context+select": ("llm", {"n": 4, "context_k": 3, "select": "reference"}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, type=Path)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--questions", type=int, default=24, help="subset of the fold's eval questions")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--out", type=Path, default=None, help="JSON with every answer and score")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from infer_bench import machine

    from infer.answerer import make_answerer
    from infer.cv import Item, eval_questions, make_folds, train_pairs
    from infer.embedders import load_embedder
    from infer.generate import pairs_from_export
    from infer.scoring import score_texts
    from infer.splitting import clean_question, split_question
    from train.run import read_card

    with DEV.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    items = [
        Item(r["id"], (r["질문_1"], r["질문_2"]), tuple(r[f"답변_{j}"] for j in range(1, 6)), r["category"])
        for r in rows
    ]
    folds = make_folds(items, args.folds, args.seed)
    held = folds[args.fold]
    train = [it for f, fold in enumerate(folds) if f != args.fold for it in fold]
    qs = eval_questions(held, seed=args.seed + args.fold)
    subset = sorted(random.Random(args.seed).sample(range(len(qs)), min(args.questions, len(qs))))
    qs = [qs[i] for i in subset]
    card = read_card(args.run)
    seen = {clean_question(p.question) for p in pairs_from_export(card["data"]["path"])}
    leaked = [p for q in qs for p in split_question(q.question) if p in seen]
    if leaked:
        sys.exit(f"{len(leaked)} held-out question parts are in the run's training data: not a held-out run")
    emb = load_embedder("muse3")
    pairs = train_pairs(train)
    print(f"machine: {machine()}")
    print(
        f"run {card['name']}: base {card['base_model']['spec']}, {card['metrics'].get('steps')} steps, "
        f"{card['data']['train_rows']} training pairs; fold {args.fold}/{args.folds}: {len(held)} held-out rows, "
        f"{len(qs)} questions ({sum(q.kind == 'double' for q in qs)} double); metric: proxy (mUSE v3)"
    )
    results = {}
    for name in args.configs.split(","):
        kind, opts = CONFIGS[name]
        if kind == "llm":
            opts = {
                **opts,
                "run_dir": str(args.run),
                "max_new_tokens": args.max_new_tokens,
                "batch_size": args.batch_size,
            }
        t0 = time.perf_counter()
        ans = make_answerer(kind, embedder=emb, **opts)
        ans.fit(pairs)
        answers = ans.answer([q.question for q in qs])
        res = score_texts(answers, [q.references for q in qs], emb)
        dt = time.perf_counter() - t0
        kinds = {
            k: float(
                sum(s for q, s in zip(qs, res.per_question, strict=True) if q.kind == k)
                / max(1, sum(q.kind == k for q in qs))
            )
            for k in ("single", "double")
        }
        results[name] = {
            "mean": res.mean,
            **kinds,
            "seconds": dt,
            "answers": answers,
            "per_question": [float(x) for x in res.per_question],
        }
        print(
            f"{name:<20} {res.mean:.4f}  single {kinds['single']:.4f}  double {kinds['double']:.4f}  ({dt:.0f} s)",
            flush=True,
        )
    if args.out:
        args.out.write_text(
            json.dumps(
                {"questions": [q.question for q in qs], "results": results}, ensure_ascii=False, indent=1
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
