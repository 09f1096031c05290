"""Embedders: the 128 word-piece window, the on-disk vector cache, backend choice."""

from __future__ import annotations

import numpy as np
import pytest

from foundation.errors import ConfigError
from qa.embedders import CachedEmbedder, approx_wordpiece_truncate, approx_wordpieces, load_embedder


def test_wordpiece_estimate_counts_syllables_punctuation_and_latin_runs():
    assert approx_wordpieces("도배지 들뜸") == 5
    assert approx_wordpieces("PVC 코팅, 2024년") == 1 + 2 + 1 + 1 + 1  # PVC, 코팅, ',', 2024, 년
    assert approx_wordpieces("abcdefghi") == 3


def test_truncation_keeps_the_first_126_estimated_pieces():
    text = "가" * 100 + " " + "나" * 100
    cut = approx_wordpiece_truncate(text)
    assert approx_wordpieces(cut) == 126
    assert cut == "가" * 100 + " " + "나" * 26
    short = "벽지 곰팡이는 환기로 줄입니다."
    assert approx_wordpiece_truncate(short) == short


def test_window_is_applied_inside_the_embedder(muse):
    head = "도배지 곰팡이는 결로 때문에 생깁니다. " * 12  # > 126 estimated pieces
    a = muse.encode([head + "철근콘크리트 구조의 장점은 내화성입니다."])
    b = muse.encode([head + "실크벽지는 물걸레 청소가 가능합니다."])
    assert approx_wordpieces(head) > 126
    np.testing.assert_allclose(a, b, atol=1e-6)  # the tails lie outside the window


class Counting:
    """The real mUSE embedder, counting the texts it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.description, self.is_proxy = inner, inner.name, inner.description, True
        self.seen = []

    def encode(self, texts):
        self.seen.extend(texts)
        return self.inner.encode(texts)


def test_cache_returns_same_vectors_without_recomputing(muse, tmp_path):
    counting = Counting(muse)
    path = tmp_path / "cache" / "vectors.sqlite"
    cached = CachedEmbedder(counting, path)
    texts = ["벽지가 들떠요", "도배지에 곰팡이가 생겼어요", "벽지가 들떠요"]
    first = cached.encode(texts)
    assert counting.seen == ["벽지가 들떠요", "도배지에 곰팡이가 생겼어요"]  # duplicates embedded once
    np.testing.assert_allclose(first, muse.encode(texts), atol=1e-6)

    again = CachedEmbedder(counting, path)  # a new process would see the same file
    counting.seen.clear()
    np.testing.assert_array_equal(again.encode(texts[::-1]), first[::-1])
    assert counting.seen == [] and again.hits == 3
    again.encode(["새 문장입니다"])
    assert counting.seen == ["새 문장입니다"]
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_load_embedder_muse3_and_auto_fallback(tmp_path, monkeypatch):
    from foundation.settings import reset_settings

    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no model hub here: auto must fall back, and say so
    reset_settings()
    logs = []
    emb = load_embedder("auto", log=logs.append)
    assert emb.name == "muse3-w128" and emb.is_proxy
    assert any("falling back to mUSE v3" in m for m in logs)
    assert any(m.startswith("embedder: muse3-w128") for m in logs)
    with pytest.raises(ConfigError, match="distiluse"):
        load_embedder("distiluse", log=logs.append)
    with pytest.raises(ConfigError, match="not a sentence-transformers model"):
        load_embedder(str(tmp_path), log=logs.append)
    with pytest.raises(ConfigError, match="use auto, distiluse, muse3"):
        load_embedder("nonsense", log=logs.append)
    reset_settings()


def test_every_muse_embedder_of_a_process_shares_one_loaded_model(muse):
    """Loading mUSE v3 costs ~1.5 s of CPU: embedders of one thread count share one model, loaded
    once, and give the same vectors; another thread count gets its own."""
    from qa.embedders import Muse3Embedder

    again = Muse3Embedder(threads=1)
    assert again._model is muse._model
    texts = ["벽지 들뜸의 원인은 무엇인가요?", "곰팡이는 환기로 줄일 수 있습니다."]
    np.testing.assert_array_equal(again.encode(texts), muse.encode(texts))
    other = Muse3Embedder(threads=2)
    assert other._model is not muse._model and other._model is Muse3Embedder(threads=2)._model
