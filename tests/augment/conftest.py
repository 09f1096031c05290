"""Fixtures of the augment tests: a tiny real model behind a real `transformers serve`, a
fault-injecting OpenAI-compatible server, and a few hand-written Korean pairs."""

from __future__ import annotations

import pytest
from aug_fault_server import FaultServer
from aug_helpers import build_tiny_model


@pytest.fixture(scope="session")
def _vector_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("vectors")


@pytest.fixture(autouse=True)
def _muse3_embedder(monkeypatch, _vector_cache_dir):
    """The gates' embedder: mUSE v3 (packaged, offline), loaded once; its vector cache in a temp folder."""
    from foundation.settings import reset_settings

    monkeypatch.setenv("DOBAE_EMBEDDER", "muse3")
    monkeypatch.setenv("DOBAE_CACHE_DIR", str(_vector_cache_dir))
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"))


@pytest.fixture(scope="session")
def tiny_server(tiny_model, tmp_path_factory):
    """A real `transformers serve` on 127.0.0.1 running the tiny model."""
    from augment.server import local_server

    with local_server(tiny_model, log_path=tmp_path_factory.mktemp("serve") / "serve.log") as srv:
        yield srv


@pytest.fixture
def fault_server():
    with FaultServer() as srv:
        yield srv
