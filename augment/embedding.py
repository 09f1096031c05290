"""Sentence embeddings for the semantic gates (drift, semantic duplicate, test leakage).

The evaluation stage's embedders (`qa.embedders.load_embedder`, chosen by `settings.embedder`:
distiluse when its weights are available, mUSE v3 otherwise) with their on-disk vector cache.
Rows are L2-normalised, so a dot product is the cosine.
"""

from __future__ import annotations

from qa.embedders import Embedder, load_embedder

__all__ = ["Embedder", "default_embedder"]

_LOADED: dict[tuple[str, str], Embedder] = {}


def default_embedder() -> Embedder:
    """The embedder named by the settings (loaded once per process and setting)."""
    from foundation.settings import get_settings

    s = get_settings()
    key = (s.embedder, str(s.cache_path))
    if key not in _LOADED:
        _LOADED[key] = load_embedder(s.embedder)
    return _LOADED[key]
