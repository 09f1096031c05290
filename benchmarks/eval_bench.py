"""Evaluation benchmark: 5-fold grouped CV scores of the constant answer, the retrieval variants and
the compose answerer on DACON dev.csv, each answerer's speed (answers/s while answering, fitting
excluded), and embedding throughput (sentences/s) cold and from the vector cache.

    python benchmarks/eval_bench.py [--data ../shared/data/dacon/dev.csv] [--folds 5] [--embedder auto]

Baselines measured in the same run: the constant answer (scores are also given as a ratio to it)
and the cold embedding pass (the cached pass is given as a speed-up over it). Reads the data file
directly (no database). The vector cache is a fresh temporary folder, so "cold" is really cold.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dacon" / "dev.csv"

VARIANTS = [
    ("constant (generic answer)", "constant", {}),
    ("retrieval embedding-only, top-1", "retrieval", {"weight": 1.0, "compose": "top1"}),
    ("retrieval embedding-only, centroid top-5", "retrieval", {"weight": 1.0, "compose": "centroid", "k": 5}),
    ("retrieval lexical-only, top-1", "retrieval", {"weight": 0.0, "compose": "top1"}),
    ("retrieval lexical-only, centroid top-5", "retrieval", {"weight": 0.0, "compose": "centroid", "k": 5}),
    ("retrieval combined 0.7, top-1", "retrieval", {"weight": 0.7, "compose": "top1"}),
    ("retrieval combined 0.7, centroid top-3", "retrieval", {"weight": 0.7, "compose": "centroid", "k": 3}),
    ("retrieval combined 0.7, centroid top-5 (default)", "retrieval", {}),
    ("retrieval default, compound questions not split", "retrieval", {"split": False}),
    ("compose (default: k=20, power 4, ridge 1.5, window budget)", "compose", {}),
    ("compose, at most 2 sentences a part", "compose", {"max_sentences": 2}),
]


class Timed:
    """Wraps an answerer: seconds spent in fit() and answer(), and answers given."""

    def __init__(self, inner, clock: dict) -> None:
        self.inner, self.clock, self.name = inner, clock, inner.name

    def fit(self, pairs):
        t0 = time.perf_counter()
        self.inner.fit(pairs)
        self.clock["fit"] += time.perf_counter() - t0

    def answer(self, questions):
        t0 = time.perf_counter()
        out = self.inner.answer(questions)
        self.clock["answer"] += time.perf_counter() - t0
        self.clock["answers"] += len(questions)
        return out

    def config(self):
        return self.inner.config()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="DACON train-format CSV (default: %(default)s)"
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--embedder", default="auto", help="auto | distiluse | muse3 | PATH")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from db.dacon import read_train
    from foundation.settings import reset_settings
    from infer.answerer import make_answerer
    from infer.evaluation.cv import as_items, cross_validate
    from qa.embedders import CachedEmbedder, load_embedder

    out = Console(highlight=False, width=130)
    if not args.data.exists():
        sys.exit(f"{args.data}: not found; pass --data PATH to a DACON train-format CSV")
    items = as_items(read_train(args.data))
    cache_dir = Path(tempfile.mkdtemp(prefix="eval-bench-cache-"))
    os.environ["DOBAE_CACHE_DIR"] = str(cache_dir)
    reset_settings()
    emb = load_embedder(args.embedder, log=lambda m: out.print(m, markup=False))
    inner = emb.inner if isinstance(emb, CachedEmbedder) else emb

    # ---------------------------------------------------------------- throughput
    texts = list(
        dict.fromkeys([q for it in items for q in it.questions] + [a for it in items for a in it.answers])
    )
    t0 = time.perf_counter()
    emb.encode(texts)
    cold = time.perf_counter() - t0
    fresh = CachedEmbedder(inner, cache_dir / "vectors.sqlite")  # a new process: reads the disk cache
    t0 = time.perf_counter()
    fresh.encode(texts)
    cached_disk = time.perf_counter() - t0
    t0 = time.perf_counter()
    fresh.encode(texts)
    cached_mem = time.perf_counter() - t0
    assert fresh.misses == 0

    # ---------------------------------------------------------------- cross-validation
    results = []
    for label, name, options in VARIANTS:
        t0 = time.perf_counter()
        clock = {"fit": 0.0, "answer": 0.0, "answers": 0}
        res = cross_validate(
            items,
            lambda name=name, options=options, clock=clock: Timed(
                make_answerer(name, embedder=emb, **options), clock
            ),
            emb,
            k=args.folds,
            seed=args.seed,
        )
        results.append((label, res, time.perf_counter() - t0, clock))
        out.print(
            f"  {label}: {res.mean:.4f} ± {res.std:.4f} ({time.perf_counter() - t0:.1f} s)", markup=False
        )

    # a human paraphrase for scale: each row's 답변_1 scored against its other four answers
    from qa.scoring import score_texts

    ceiling = score_texts([it.answers[0] for it in items], [it.answers[1:] for it in items], emb).mean
    out.print(f"  reference: 답변_1 against the row's other four answers (a human paraphrase): {ceiling:.4f}")

    machine = describe()
    proxy = "PROXY metric, " if getattr(emb, "is_proxy", False) else ""
    base = results[0][1].mean
    t = Table(
        title=f"{args.folds}-fold grouped CV on {args.data.name} ({len(items)} rows), "
        f"{proxy}embedder {emb.name}"
    )
    cols = ("answerer", "mean ± sd (folds)", "single", "double", "× constant", "answers/s", "fit s", "s")
    for col in cols:
        t.add_column(col, justify="left" if col == "answerer" else "right")
    for label, res, secs, clock in results:
        t.add_row(
            label,
            f"{res.mean:.4f} ± {res.std:.4f}",
            f"{res.by_kind.get('single', float('nan')):.4f}",
            f"{res.by_kind.get('double', float('nan')):.4f}",
            f"{res.mean / base:.2f}",
            f"{clock['answers'] / max(clock['answer'], 1e-9):,.1f}",
            f"{clock['fit'] / args.folds:.1f}",
            f"{secs:.1f}",
        )
    t.add_row(
        "(scale) 답변_1 vs the row's other four answers",
        f"{ceiling:.4f}",
        "",
        "",
        f"{ceiling / base:.2f}",
        "",
        "",
        "",
    )
    out.print(t)
    tt = Table(title=f"embedding throughput, {emb.name} ({len(texts)} unique dev sentences)")
    for col in ("pass", "seconds", "sentences/s", "× cold"):
        tt.add_column(col, justify="left" if col == "pass" else "right")
    for label, secs in (
        ("cold (model)", cold),
        ("cached, from disk (new process)", cached_disk),
        ("cached, in memory", cached_mem),
    ):
        tt.add_row(label, f"{secs:.3f}", f"{len(texts) / secs:,.0f}", f"{cold / secs:.1f}")
    out.print(tt)
    out.print(f"embedder: {emb.name} — {emb.description}")
    out.print(f"machine: {machine}")


if __name__ == "__main__":
    main()
