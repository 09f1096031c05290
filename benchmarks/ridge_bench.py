"""Ridge benchmark: the composer's ridge regression (`infer/ridge.py`, exact dual solve) against the
baseline, scikit-learn's `Ridge` (what the composer used before: on sparse features with an intercept,
one conjugate-gradient solve per output column), on the composer's real features — the question
embeddings ⊕ TF-IDF rows of every training phrasing of DACON data, to each item's mean answer vector.
Both fits are timed (CPU seconds), and their predictions compared.

    python benchmarks/ridge_bench.py [--data ../shared/data/dacon/dev.csv] [--embedder muse3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dacon" / "dev.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="DACON train-format CSV (default: %(default)s)"
    )
    ap.add_argument("--embedder", default="muse3", help="auto | distiluse | muse3 | PATH")
    args = ap.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data}: not found; pass --data PATH to a DACON train-format CSV")

    import numpy as np
    from sklearn.linear_model import Ridge as SklearnRidge

    from db.dacon import read_train
    from infer.answerer import make_answerer
    from infer.evaluation.cv import as_items, train_pairs
    from infer.ridge import Ridge
    from qa.embedders import load_embedder

    print(f"machine: {describe()}")
    items = as_items(read_train(args.data))
    composer = make_answerer(
        "compose", embedder=load_embedder(args.embedder, cache=False, log=print), ridge=0
    )
    composer.fit(train_pairs(items))
    dense, lex, group_of = composer.retriever.phrasing_features()
    X = composer._features(dense, lex)
    Y = composer._mean[group_of]
    print(
        f"features: {X.shape[0]} phrasings × {X.shape[1]} columns ({X.nnz} non-zero) → {Y.shape[1]} outputs"
    )

    def timed(model):
        t0 = time.process_time()
        model.fit(X, Y)
        return model, time.process_time() - t0

    ours, t_ours = timed(Ridge(alpha=composer.ridge_alpha))
    theirs, t_theirs = timed(SklearnRidge(alpha=composer.ridge_alpha))
    diff = float(np.abs(ours.predict(X) - theirs.predict(X)).max())
    print(f"baseline  scikit-learn Ridge (sparse_cg, tol 1e-4): {t_theirs:7.2f} s CPU")
    print(f"ours      dual solve (infer/ridge.py):             {t_ours:7.2f} s CPU")
    print(f"speed-up: {t_theirs / max(t_ours, 1e-9):.1f}×; largest prediction difference {diff:.1e}")


if __name__ == "__main__":
    main()
