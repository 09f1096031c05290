"""The inference evaluation table: constant, retrieval, LLM, LLM + retrieved context,
LLM + context + candidate selection, on held-out DACON rows with the proxy metric (mUSE v3).

    python benchmarks/infer_cv_table.py --run RUN_DIR --fold 0 --questions 24

Honest by construction: RUN_DIR must have been trained on the OTHER folds' rows only (same
grouped folds as `dobae evaluate`: `infer.cv.make_folds(items, k, seed)`). Cut its training data
from a full export with

    python benchmarks/infer_cv_table.py --fold 0 --write-fold-export approved.jsonl fold0.jsonl

which drops every pair built from a held-out row, by ANY of its groups (`source_groups`: a compound
question made of a held-out row and another is dropped too). Before scoring, the script checks
that no pair of the run's training data is built from a held-out row's group and that no held-out
question (or part of one) is a training question or part of one. Questions are the test-like evaluation questions
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
    ap.add_argument("--run", type=Path, help="training run folder (required unless --write-fold-export)")
    ap.add_argument(
        "--write-fold-export",
        nargs=2,
        type=Path,
        metavar=("EXPORT", "OUT"),
        help="write EXPORT's pairs that may train for --fold (none built from a held-out row) to OUT, then exit",
    )
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--questions", type=int, default=24, help="subset of the fold's eval questions")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--out", type=Path, default=None, help="JSON with every answer and score")
    args = ap.parse_args()
    if args.run is None and args.write_fold_export is None:
        ap.error("--run is required (or --write-fold-export EXPORT OUT)")

    from infer.cv import Item, eval_questions, fold_training_rows, make_folds, touches_rows, train_pairs
    from infer.splitting import split_question
    from train.data import read_export

    with DEV.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    items = [
        Item(r["id"], (r["질문_1"], r["질문_2"]), tuple(r[f"답변_{j}"] for j in range(1, 6)), r["category"])
        for r in rows
    ]
    folds = make_folds(items, args.folds, args.seed)
    held = folds[args.fold]
    train = [it for f, fold in enumerate(folds) if f != args.fold for it in fold]
    if args.write_fold_export:
        src, out = args.write_fold_export
        read_export(src)  # checked first: errors name the file and line
        lines = [json.loads(x) for x in src.read_text(encoding="utf-8-sig").splitlines() if x.strip()]
        kept = fold_training_rows(lines, held)
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        print(
            f"{out}: {len(kept)} of {len(lines)} pairs (dropped {len(lines) - len(kept)} built from fold {args.fold})"
        )
        return

    import torch

    torch.set_num_threads(1)
    from infer_bench import machine

    from infer.answerer import make_answerer
    from infer.embedders import load_embedder
    from infer.scoring import score_texts
    from train.run import read_card

    qs = eval_questions(held, seed=args.seed + args.fold)
    subset = sorted(random.Random(args.seed).sample(range(len(qs)), min(args.questions, len(qs))))
    qs = [qs[i] for i in subset]
    card = read_card(args.run)
    run_pairs = read_export(card["data"]["path"]).pairs
    held_ids = {it.id for it in held}
    built = [p.id for p in run_pairs if touches_rows(p.groups, held_ids)]
    if built:
        sys.exit(
            f"{len(built)} pairs of the run's training data are built from held-out rows (e.g. pair {built[0]}): "
            "not a held-out run; cut its export with --write-fold-export"
        )
    # parts, so a held-out question inside a training compound counts too
    seen = {part for p in run_pairs for part in split_question(p.question)}
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
