"""Multi-output ridge regression with an unpenalised intercept, solved exactly in its dual form.

The composer (`infer/compose.py`) regresses a 512-d answer centroid on question features (an
embedding ⊕ sparse TF-IDF: a few hundred to a few thousand rows, tens of thousands of columns).
scikit-learn's `Ridge` fits sparse data with an intercept by one conjugate-gradient solve per output
column — 512 of them, ~1 s for 60 rows and ~30 s for 3,000 — to a tolerance of 1e-4. With more
columns than rows the dual is one n×n solve:

    W = Xcᵀ (Xc Xcᵀ + αI)⁻¹ Yc = Xᵀ A,   b = ȳ − μᵀ W = ȳ − r·A

(Xc, Yc centred; Xc Xcᵀ is the doubly centred Gram matrix K; r its column means, μᵀXᵀ; Xcᵀ A = Xᵀ A
because the columns of A sum to 0). Predictions are (Z Xᵀ) A + b, so the p×512 weight matrix is
never formed. Above `DUAL_MAX_ROWS` rows the Gram matrix would outgrow memory, and scikit-learn's
solver (memory-light) is used instead: the same model, to its tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DUAL_MAX_ROWS = 8000  # an 8,000² float64 Gram matrix is 512 MB


class Ridge:
    """`fit(X, Y)` then `predict(Z)`, as scikit-learn's `Ridge(alpha)` with `fit_intercept=True`."""

    def __init__(self, alpha: float = 1.0, dual_max_rows: int = DUAL_MAX_ROWS) -> None:
        if alpha <= 0:
            raise ValueError("alpha must be > 0")
        self.alpha = float(alpha)
        self.dual_max_rows = dual_max_rows
        self._rows: Any = None  # the training rows (dual form)
        self._dual: np.ndarray | None = None
        self._bias: np.ndarray | None = None
        self._sklearn: Any = None

    def fit(self, X: Any, Y: np.ndarray) -> Ridge:
        from scipy import sparse

        Y = np.asarray(Y, dtype=np.float64)
        n = X.shape[0]
        if n > self.dual_max_rows:
            from sklearn.linear_model import Ridge as SklearnRidge

            self._sklearn = SklearnRidge(alpha=self.alpha).fit(X, Y)
            return self
        from scipy.linalg import solve

        rows = sparse.csr_matrix(X, dtype=np.float64)
        gram = np.asarray((rows @ rows.T).todense())
        r = gram.mean(axis=0)
        centred = gram - r[None, :] - r[:, None] + r.mean()
        centred[np.diag_indices(n)] += self.alpha
        y_mean = Y.mean(axis=0)
        self._dual = solve(centred, Y - y_mean, assume_a="pos")
        self._bias = y_mean - r @ self._dual
        self._rows = rows
        return self

    def predict(self, Z: Any) -> np.ndarray:
        from scipy import sparse

        if self._sklearn is not None:
            return np.asarray(self._sklearn.predict(Z))
        if self._dual is None or self._bias is None:
            raise RuntimeError("Ridge.predict before fit")
        kernel = sparse.csr_matrix(Z, dtype=np.float64) @ self._rows.T
        return np.asarray(kernel.todense()) @ self._dual + self._bias
