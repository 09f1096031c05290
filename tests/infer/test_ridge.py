"""The composer's ridge regression (`infer/ridge.py`): the dual solve is scikit-learn's model — the
same predictions, to scikit-learn's own solver tolerance — on sparse features with more columns than
rows and with fewer, and above the row limit it is scikit-learn's solver itself."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.linear_model import Ridge as SklearnRidge

from infer.ridge import Ridge


def _data(n: int, vocab: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    dense = sparse.csr_matrix(rng.normal(size=(n, 16)) / 4)
    lex = sparse.random(n, vocab, density=min(1.0, 6 / vocab), random_state=seed, format="csr")
    X = sparse.hstack([dense, lex]).tocsr()
    return X, rng.normal(size=(n, 8)) + 3.0  # off-centre targets: the intercept matters


@pytest.mark.parametrize(("n", "vocab"), [(40, 400), (300, 20)], ids=["wide", "tall"])
def test_dual_ridge_predicts_what_sklearn_ridge_predicts(n, vocab):
    X, Y = _data(n, vocab)
    Z, _ = _data(9, vocab, seed=1)
    ours = Ridge(alpha=0.7).fit(X, Y)
    theirs = SklearnRidge(alpha=0.7, solver="sparse_cg", tol=1e-10).fit(X, Y)
    np.testing.assert_allclose(ours.predict(Z), theirs.predict(Z), atol=1e-6)
    np.testing.assert_allclose(ours.predict(X).mean(axis=0), Y.mean(axis=0), atol=1e-8)  # the intercept


def test_above_the_row_limit_it_is_sklearns_solver():
    X, Y = _data(50, 200)
    big = Ridge(alpha=1.0, dual_max_rows=10).fit(X, Y)
    assert big._sklearn is not None and big._dual is None
    np.testing.assert_allclose(big.predict(X[:5]), Ridge(alpha=1.0).fit(X, Y).predict(X[:5]), atol=1e-3)


def test_bad_use_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        Ridge(alpha=0)
    with pytest.raises(RuntimeError, match="before fit"):
        Ridge().predict(sparse.csr_matrix((1, 3)))
