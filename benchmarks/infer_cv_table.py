"""The inference evaluation table: constant, retrieval, compose, LLM, LLM + retrieved context,
LLM + context + candidate selection, LLM + pool (the LLM's candidates + the composer's), on
held-out DACON rows with the proxy metric (mUSE v3).

    python benchmarks/infer_cv_table.py --run RUN_DIR --fold 0 --questions 24
    # two runs (e.g. without / with augmented data) on the same questions, fewer rows for B,
    # results kept in a JSON file (a re-run skips the rows already there):
    python benchmarks/infer_cv_table.py --run A=runs/A --run B=runs/B --only B=llm,llm+select \
        --questions 24 --out table.json

Honest by construction: RUN_DIR must have been trained on the OTHER folds' rows only (same
grouped folds as `dobae evaluate`: `infer.evaluation.cv.make_folds(items, k, seed)`). Cut its training data
from a full export with

    python benchmarks/infer_cv_table.py --fold 0 --write-fold-export approved.jsonl fold0.jsonl

which drops every pair built from a held-out row, by ANY of its groups (`source_groups`: a compound
question made of a held-out row and another is dropped too). Before scoring, the script checks
that no pair of the run's training data is built from a held-out row's group and that no held-out
question (or part of one) is a training question or part of one. Questions are the test-like evaluation questions
of that fold (`infer.evaluation.cv.eval_questions`: single + joined double questions), a seeded subset of
`--questions` of them when generation is too slow for all. Every answerer is fitted on the other
folds' pairs (`infer.evaluation.cv.train_pairs`) and scored with `qa.scoring.score_texts`. With several
runs, the LLM rows are measured for each (`--only LABEL=cfg,…` limits one run's rows); the last
lines print each row's paired difference to the first run's greedy LLM row on the same questions,
with a bootstrap 95% interval (small subsets are noisy: read the interval, not the point).
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

from benchmarks.machine import describe  # noqa: E402

CONFIGS = {
    "constant": ("constant", {}),
    "retrieval": ("retrieval", {}),
    "compose": ("compose", {}),
    "llm": ("llm", {"n": 1, "context_k": 0}),
    "llm+pool": ("llm", {"n": 4, "context_k": 0, "select": "reference", "pool": True}),
    "llm+context": ("llm", {"n": 1, "context_k": 3}),
    "llm+select": ("llm", {"n": 4, "context_k": 0, "select": "reference"}),
    "llm+context+select": ("llm", {"n": 4, "context_k": 3, "select": "reference"}),
    "llm+rep1.2": ("llm", {"n": 1, "context_k": 0, "repetition_penalty": 1.2}),
    "llm+rep1.2+select": ("llm", {"n": 4, "context_k": 0, "select": "reference", "repetition_penalty": 1.2}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--run",
        action="append",
        help="[LABEL=]RUN_DIR, repeatable (label: the folder name); required unless --write-fold-export",
    )
    ap.add_argument("--only", action="append", default=[], help="LABEL=cfg,cfg: that run's LLM rows only")
    ap.add_argument(
        "--write-fold-export",
        nargs=2,
        type=Path,
        metavar=("EXPORT", "OUT"),
        help="write EXPORT's pairs that may train for --fold (none built from a held-out row) to OUT, then exit",
    )
    ap.add_argument("--data", type=Path, default=DEV, help="dev.csv (default: %(default)s)")
    ap.add_argument(
        "--baseline", default=None, help="row key the paired differences are taken to (default: RUN:llm)"
    )
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--questions", type=int, default=24, help="subset of the fold's eval questions")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON with every answer and score (rows already in it are kept)",
    )
    args = ap.parse_args()
    if args.run is None and args.write_fold_export is None:
        ap.error("--run is required (or --write-fold-export EXPORT OUT)")

    from infer.evaluation.cv import (
        Item,
        eval_questions,
        fold_training_rows,
        make_folds,
        touches_rows,
        train_pairs,
    )
    from qa.pairs import read_export
    from qa.splitting import split_question

    with args.data.open(encoding="utf-8-sig") as fh:
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
    from infer.answerer import make_answerer
    from qa.embedders import load_embedder
    from qa.runs import read_card
    from qa.scoring import score_texts

    qs = eval_questions(held, seed=args.seed + args.fold)
    subset = sorted(random.Random(args.seed).sample(range(len(qs)), min(args.questions, len(qs))))
    qs = [qs[i] for i in subset]
    runs = {}
    for spec in args.run:
        label, _, path = spec.rpartition("=")
        runs[label or Path(path).name] = Path(path)
    only = {k: v.split(",") for k, v in (o.split("=", 1) for o in args.only)}
    configs = args.configs.split(",")
    unknown = [c for c in configs + [c for v in only.values() for c in v] if c not in CONFIGS]
    if unknown:
        sys.exit(f"unknown config(s) {', '.join(unknown)}; use {', '.join(CONFIGS)}")
    print(f"machine: {describe(torch=True)}")
    cards = {}
    held_ids = {it.id for it in held}
    for label, run in runs.items():
        card = cards[label] = read_card(run)
        export = read_export(card["data"]["path"]).pairs
        touching = [p.id for p in export if touches_rows(p.groups, held_ids)]
        if touching:
            sys.exit(
                f"run {label}: {len(touching)} training pairs are built from held-out rows "
                f"(e.g. {touching[0]}): not a held-out run"
            )
        # parts, so a held-out question inside a training compound counts too
        seen = {part for p in export for part in split_question(p.question)}
        leaked = [p for q in qs for p in split_question(q.question) if p in seen]
        if leaked:
            sys.exit(
                f"run {label}: {len(leaked)} held-out question parts are in its training data: not held-out"
            )
        print(
            f"run {label} ({run}): base {card['base_model']['spec']}, {card['metrics'].get('steps')} steps, "
            f"{card['data']['train_rows']} training pairs, no held-out question part among them"
        )
    print(
        f"fold {args.fold}/{args.folds} (seed {args.seed}): {len(held)} held-out rows, {len(qs)} questions "
        f"({sum(q.kind == 'double' for q in qs)} double); metric: proxy (mUSE v3)"
    )
    emb = load_embedder("muse3")
    pairs = train_pairs(train)
    questions = [q.question for q in qs]
    results: dict = {}
    if args.out and args.out.is_file():
        old = json.loads(args.out.read_text(encoding="utf-8"))
        if old.get("questions") == questions:
            results = old["results"]
            print(f"{args.out}: keeping {len(results)} rows already measured ({', '.join(results)})")
    plan = [(name, None) for name in configs if CONFIGS[name][0] != "llm"]
    # in --configs order, each config for every run before the next (rows kept as they finish)
    plan += [
        (name, label)
        for name in configs
        for label in runs
        if CONFIGS[name][0] == "llm" and name in only.get(label, configs)
    ]
    for name, label in plan:
        key = name if label is None else f"{label}:{name}"
        if key in results:
            continue
        kind, opts = CONFIGS[name]
        if kind == "llm":
            opts = {
                **opts,
                "run_dir": str(runs[label]),
                "max_new_tokens": args.max_new_tokens,
                "batch_size": args.batch_size,
            }
        t0 = time.perf_counter()
        ans = make_answerer(kind, embedder=emb, **opts)
        ans.fit(pairs)
        answers = ans.answer(questions)
        res = score_texts(answers, [q.references for q in qs], emb)
        dt = time.perf_counter() - t0
        kinds = {
            k: float(
                sum(s for q, s in zip(qs, res.per_question, strict=True) if q.kind == k)
                / max(1, sum(q.kind == k for q in qs))
            )
            for k in ("single", "double")
        }
        results[key] = {
            "mean": res.mean,
            **kinds,
            "seconds": dt,
            "config": {k: v for k, v in opts.items() if k != "run_dir"},
            "run": str(runs[label]) if label else None,
            "answers": answers,
            "per_question": [float(x) for x in res.per_question],
        }
        print(
            f"{key:<24} {res.mean:.4f}  single {kinds['single']:.4f}  double {kinds['double']:.4f}  ({dt:.0f} s)",
            flush=True,
        )
        if args.out:
            args.out.write_text(
                json.dumps({"questions": questions, "results": results}, ensure_ascii=False, indent=1),
                encoding="utf-8",
            )
    base_key = args.baseline or f"{next(iter(runs))}:llm"
    if base_key in results:
        import numpy as np

        base = np.array(results[base_key]["per_question"])
        rng = np.random.default_rng(args.seed)
        idx = rng.integers(0, len(base), size=(2000, len(base)))
        print(f"paired difference to {base_key} on the same {len(base)} questions (bootstrap 95% interval):")
        for key, r in results.items():
            d = np.array(r["per_question"]) - base
            lo, hi = np.percentile(d[idx].mean(axis=1), [2.5, 97.5])
            print(f"  {key:<24} {d.mean():+.4f}  [{lo:+.4f}, {hi:+.4f}]")


if __name__ == "__main__":
    main()
