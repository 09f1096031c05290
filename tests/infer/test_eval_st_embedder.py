"""`--embedder PATH`: a sentence-transformers folder, built here in the shape of
distiluse-base-multilingual-cased-v1 (WordPiece → 1-layer BERT → mean pooling → Dense 512, tanh)
with random weights: the real model is on the hub only. Checks loading, 512-d output, the cache
name, and that the scorer's 128 word-piece window is applied by the model's own tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

TEXTS = ["도배지에 곰팡이가 생겼어요", "벽지가 들떠요", "실크벽지는 오염에 강합니다"]


@pytest.fixture(scope="module")
def st_folder(tmp_path_factory):
    import torch
    from sentence_transformers import SentenceTransformer, models
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers import models as tok_models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("st") / "tiny-distiluse"
    base = path.parent / "bert"
    base.mkdir()
    chars = sorted({c for t in TEXTS for c in t if not c.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *[f"##{c}" for c in chars]]
    wp = Tokenizer(tok_models.WordPiece({v: i for i, v in enumerate(vocab)}, unk_token="[UNK]"))
    # mBERT-cased style: no lower-casing, no accent stripping (which would decompose Hangul)
    wp.normalizer = normalizers.BertNormalizer(
        lowercase=False, strip_accents=False, handle_chinese_chars=False
    )
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    tok = BertTokenizerFast(tokenizer_object=wp, do_lower_case=False)
    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(cfg).save_pretrained(base)
    tok.save_pretrained(base)
    word = models.Transformer(str(base), max_seq_length=512)
    pool = models.Pooling(32, pooling_mode="mean")
    dense = models.Dense(32, 512, activation_function=torch.nn.Tanh())
    SentenceTransformer(modules=[word, pool, dense], device="cpu").save(str(path))
    return path


def test_folder_embedder_loads_and_applies_the_window(st_folder, tmp_path, monkeypatch):
    from foundation.settings import reset_settings
    from qa.embedders import CachedEmbedder, load_embedder

    monkeypatch.setenv("DOBAE_DATA_DIR", str(tmp_path))
    reset_settings()
    logs = []
    emb = load_embedder(str(st_folder), log=logs.append)
    assert isinstance(emb, CachedEmbedder)
    assert emb.name == f"st:{st_folder.resolve()}-w128" and emb.is_proxy
    assert "not the competition model" in logs[-1]
    vecs = emb.encode(TEXTS)
    assert vecs.shape == (3, 512) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    assert emb.inner._model.max_seq_length == 128

    head = "벽지가 들떠요 " * 30  # 180 word-pieces of this vocabulary: past the window
    a, b = emb.encode([head + "곰팡이", head + "실크벽지"])
    np.testing.assert_allclose(a, b, atol=1e-6)
    c, d = emb.encode(["벽지가 들떠요 곰팡이", "벽지가 들떠요 실크벽지"])
    assert emb.inner._model.tokenizer.tokenize("곰팡이") == ["곰", "##팡", "##이"]
    assert not np.allclose(c, d, atol=1e-4)  # within the window the ending matters
    reset_settings()
