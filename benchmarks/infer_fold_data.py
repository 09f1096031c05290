"""Training exports for the held-out inference table (`benchmarks/infer_cv_table.py`): one fold's
TRAINING side of dev.csv, without and with augmented pairs.

    python benchmarks/infer_fold_data.py --out /tmp/infer-eval/data --fold 0

Writes two `dobae export`-style JSONL files (id, group_id, question, answer, category, origin):
- `fold{F}-train.jsonl`: every (phrasing × answer) pair of the rows outside fold F
  (`infer.evaluation.cv.train_pairs`, the same pairs the retrieval answerer is fitted on), group = row id;
- `fold{F}-train+compound.jsonl`: those pairs plus `compound_per_pair` compound pairs per pair
  (`source_groups`: both halves' groups, as augment/ exports them),
  built exactly like augment/'s `compound` operation (`augment.operations.join_compound`: a
  partner of a different group, same category when possible, seeded; answer = both answers), with
  partners drawn ONLY from the training side. The script asserts that no augmented pair touches a
  held-out row, so the comparison is held-out whatever the augmentation does elsewhere.

The compound pairs are built here from the pairs directly (no database, no review step): the
operation is rule-based (no LLM), so the pairs are what `dobae augment compound` would derive.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "dacon" / "dev.csv"
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEV)
    ap.add_argument("--out", type=Path, required=True, help="folder for the two JSONL exports")
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--compound-per-pair", type=int, default=1)
    args = ap.parse_args()

    from augment.operations import CompoundQuestions, join_compound
    from infer.evaluation.cv import Item, make_folds, train_pairs

    with args.data.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    items = [
        Item(r["id"], (r["질문_1"], r["질문_2"]), tuple(r[f"답변_{j}"] for j in range(1, 6)), r["category"])
        for r in rows
    ]
    folds = make_folds(items, args.folds, args.seed)
    held_ids = {it.id for it in folds[args.fold]}
    train = [it for f, fold in enumerate(folds) if f != args.fold for it in fold]
    pairs = train_pairs(train)
    assert not {p.group_id for p in pairs} & held_ids

    base = [
        {
            "id": f"{p.group_id}:{i}",
            "group_id": p.group_id,
            "question": p.question,
            "answer": p.answer,
            "category": p.category or "",
            "origin": "dacon",
            "source_groups": [p.group_id],
        }
        for i, p in enumerate(pairs)
    ]
    # the compound operation's pairing (augment/operations/compound.py CompoundQuestions.items), on this pool
    rng = random.Random(args.seed)
    by_cat: dict[str, list[dict]] = {}
    for b in base:
        by_cat.setdefault(b["category"], []).append(b)
    compound = []
    for a in base:
        for k in range(args.compound_per_pair):
            same = [x for x in by_cat[a["category"]] if x["group_id"] != a["group_id"]]
            others = same or [x for x in base if x["group_id"] != a["group_id"]]
            b = others[rng.randrange(len(others))]
            joiner = CompoundQuestions.JOINERS[rng.randrange(len(CompoundQuestions.JOINERS))]
            assert a["group_id"] not in held_ids and b["group_id"] not in held_ids
            compound.append(
                {
                    "id": f"{a['id']}:compound:{k}",
                    "group_id": a["group_id"],
                    "question": join_compound(a["question"], b["question"], joiner),
                    "answer": f"{a['answer'].strip()} {b['answer'].strip()}",
                    "category": a["category"],
                    "origin": f"compound:{b['id']}",
                    "source_groups": [a["group_id"], b["group_id"]],
                }
            )
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in (
        (f"fold{args.fold}-train.jsonl", base),
        (f"fold{args.fold}-train+compound.jsonl", base + compound),
    ):
        path = args.out / name
        path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in data), encoding="utf-8")
        print(f"{path}: {len(data)} pairs ({len(data) - len(base)} compound)")
    print(
        f"fold {args.fold}/{args.folds} (seed {args.seed}): {len(held_ids)} held-out rows never used; "
        f"{len(train)} training rows"
    )


if __name__ == "__main__":
    main()
