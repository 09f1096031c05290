"""The answerer interface shared by `dobae evaluate` and `dobae submit`.

An answerer is fitted on training pairs (one cross-validation fold, or all imported data for a
submission) and then answers questions. Implementations register themselves by name in
`ANSWERERS` so the CLI can pick them with `--answerer NAME` (the retriever lives in the shared
core, `qa.retrieval`, and is registered here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from qa.pairs import Pair


class Answerer(Protocol):
    name: str

    def fit(self, pairs: Sequence[Pair]) -> None: ...

    def answer(self, questions: Sequence[str]) -> list[str]: ...

    def config(self) -> dict[str, Any]:
        """What identifies this answerer's settings (stored with every evaluation)."""
        ...


ANSWERERS: dict[str, Callable[..., Answerer]] = {}


def register_answerer(name: str) -> Callable[[Callable[..., Answerer]], Callable[..., Answerer]]:
    def deco(factory: Callable[..., Answerer]) -> Callable[..., Answerer]:
        ANSWERERS[name] = factory
        return factory

    return deco


def make_answerer(name: str, *, embedder: Any = None, **options: Any) -> Answerer:
    """Build the answerer registered as `name` with `options` (from `-o key=value` on the CLI).

    Factories that take an `embedder` argument get the evaluation's embedder (retrieval does);
    unknown options are a ConfigError naming the answerer's accepted options.
    """
    import inspect

    from foundation.errors import ConfigError

    _load_builtin_answerers()
    if name not in ANSWERERS:
        raise ConfigError(f"unknown answerer {name!r}; choose one of: {', '.join(sorted(ANSWERERS))}")
    factory = ANSWERERS[name]
    params = inspect.signature(factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if "embedder" in params:
        options["embedder"] = embedder
    unknown = [k for k in options if k not in params and not takes_any]
    if unknown:
        accepted = ", ".join(k for k in params if k != "embedder") or "none"
        raise ConfigError(f"answerer {name!r} has no option {unknown[0]!r} (options: {accepted})")
    try:
        return factory(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"answerer {name!r}: {exc}") from exc


def _load_builtin_answerers() -> None:
    """Import the modules whose `@register_answerer` fill the registry (optional ones may be absent)."""
    import importlib

    from qa.retrieval import RetrievalAnswerer  # the shared retriever is also an answerer

    ANSWERERS.setdefault("retrieval", RetrievalAnswerer)
    for module in ("infer.baselines", "infer.compose", "infer.llm"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
