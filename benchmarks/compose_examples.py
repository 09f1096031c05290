"""Side-by-side answers of the retrieval and compose answerers on held-out questions, and where the
composed sentences come from (the share taken from items far from the question).

    python benchmarks/compose_examples.py [--data ../shared/data/dacon/dev.csv] [--fold 0] [--show 10]

Fold `--fold` of the grouped 5-fold split (`infer.evaluation.cv.make_folds`, seed 42): both answerers are
fitted on the other folds' rows, then answer the fold's test-like questions. Prints a Markdown table
of `--show` seeded questions (retrieval answer | composed answer, each with its score), then, over
ALL the fold's questions, the rank of the retrieved item each composed sentence was taken from
(rank 1 = the nearest item) and its similarity relative to the nearest item's.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections import Counter
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dacon" / "dev.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("--embedder", default="muse3")
    args = ap.parse_args()

    from db.dacon import read_train
    from infer.answerer import make_answerer
    from infer.evaluation.cv import as_items, eval_questions, make_folds, train_pairs
    from qa.embedders import load_embedder
    from qa.scoring import score_texts

    items = as_items(read_train(args.data))
    folds = make_folds(items, 5, args.seed)
    held = folds[args.fold]
    train = [it for f, fold in enumerate(folds) if f != args.fold for it in fold]
    qs = eval_questions(held, seed=args.seed + args.fold)
    emb = load_embedder(args.embedder, log=lambda m: None)
    pairs = train_pairs(train)
    retrieval = make_answerer("retrieval", embedder=emb)
    retrieval.fit(pairs)
    compose = make_answerer("compose", embedder=emb)
    compose.fit(pairs)
    questions = [q.question for q in qs]
    ra = retrieval.answer(questions)
    ca = compose.answer(questions)
    refs = [q.references for q in qs]
    rs = score_texts(ra, refs, emb).per_question
    cs = score_texts(ca, refs, emb).per_question
    print(
        f"fold {args.fold}: {len(qs)} questions; retrieval {rs.mean():.4f}, compose {cs.mean():.4f} "
        f"(embedder {emb.name})\n"
    )
    show = sorted(random.Random(args.seed).sample(range(len(qs)), min(args.show, len(qs))))
    print("| # | question | retrieval answer | score | composed answer | score |")
    print("|---|---|---|---|---|---|")
    for n, i in enumerate(show, 1):
        cells = [questions[i], ra[i], f"{rs[i]:.3f}", ca[i], f"{cs[i]:.3f}"]
        print(f"| {n} | " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |")

    ranks: Counter = Counter()
    rel: list[float] = []
    n_sent = 0
    for traces in compose.trace:
        for t in traces:
            top_sim = t.items[0][1]
            for rank in t.source_ranks:
                n_sent += 1
                ranks[rank + 1] += 1
                rel.append(t.items[rank][1] / top_sim if top_sim > 0 else 0.0)
    print(f"\n{n_sent} composed sentences over {len(qs)} questions; source item rank (1 = nearest):")
    for lo, hi in ((1, 1), (2, 3), (4, 5), (6, 10), (11, 20)):
        k = sum(v for r, v in ranks.items() if lo <= r <= hi)
        print(f"  rank {lo}-{hi}: {k} ({k / n_sent:.1%})")
    far = sum(1 for r in rel if r < 0.8)
    print(f"  from items whose similarity is < 0.8 × the nearest item's: {far} ({far / n_sent:.1%})")


if __name__ == "__main__":
    main()
