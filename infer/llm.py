"""The `llm` answerer: a trained run (train/RUN_DIR.md) behind `dobae evaluate` and `dobae submit`.

`dobae evaluate --answerer llm --run RUN_DIR -o n=6 -o select=reference`
`dobae evaluate --answerer llm --run RUN_DIR -o n=4 -o pool=true` (LLM candidates + the composer's)
`dobae submit --questions test.csv --answerer llm --run RUN_DIR --out submissions/llm`

Options are the fields of `infer.generate.InferOptions` (n, temperature, context_k, select, …).
`fit(pairs)` trains nothing: it builds the retriever (context and reference selection) over the
given pairs. Cross-validation is honest only when the run did not train on the held-out rows:
the answerer warns when a question it answers appears verbatim in the run's training data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from foundation.console import console, esc
from foundation.errors import ConfigError
from infer.answerer import register_answerer
from infer.backends import load_generator
from infer.generate import (
    InferOptions,
    Pipeline,
    make_composer,
    run_context_k,
    run_embedder_spec,
)
from infer.select import needs_references, parse_weights
from qa.pairs import Pair
from qa.retrieval import make_retriever
from qa.splitting import split_question


@register_answerer("llm")
class LLMAnswerer:
    name = "llm"

    def __init__(self, run_dir: str | None = None, embedder: Any = None, **options: Any) -> None:
        if not run_dir:
            raise ValueError("the llm answerer needs a training run: pass --run RUN_DIR")
        try:
            self.options = InferOptions(**options)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"{problems} (options: {', '.join(InferOptions.model_fields)})") from None
        self.run_dir = Path(run_dir)
        parse_weights(self.options.select)  # bad selection specs fail before the model loads
        if not (self.run_dir / "run_card.json").is_file():
            raise ConfigError(f"{self.run_dir} is not a training run folder (no run_card.json)")
        self.embedder = embedder
        self._pipe: Pipeline | None = None
        self._seen: set[str] | None = None

    def config(self) -> dict[str, Any]:
        card = self._card() if self._pipe is None else self._pipe.card
        return {
            "run": card.get("name"),
            "run_dir": str(self.run_dir),
            "base_model": (card.get("base_model") or {}).get("spec"),
            "data_sha256": (card.get("data") or {}).get("sha256"),
            **self.options.model_dump(),
        }

    def _card(self) -> dict[str, Any]:
        from qa.runs import read_card

        return read_card(self.run_dir)

    def fit(self, pairs: Sequence[Pair]) -> None:
        generator, card = load_generator(self.run_dir, self.options.backend)
        pool = self.options.pool
        weights = parse_weights(self.options.select) if self.options.n > 1 or pool else {}
        k = run_context_k(card) if self.options.context_k is None else self.options.context_k
        embedder = self.embedder
        if embedder is None and (weights or k):
            from qa.embedders import load_embedder

            embedder = load_embedder(run_embedder_spec(card))
        retriever = None
        if k or needs_references(weights):
            if not pairs:
                raise ValueError("retrieved context / reference selection need training pairs")
            retriever = make_retriever(list(pairs), embedder)
        composer = make_composer(list(pairs), embedder) if pool else None
        self._pipe = Pipeline(
            generator, card, self.options, retriever=retriever, embedder=embedder, composer=composer
        )

    def _warn_leaks(self, questions: Sequence[str]) -> None:
        if self._seen is None:
            path = Path((self._pipe.card.get("data") or {}).get("path", ""))
            self._seen = set()
            if path.is_file():
                from qa.pairs import read_export

                # parts, so a held-out question inside a training compound counts too
                self._seen = {q for p in read_export(path).pairs for q in split_question(p.question)}
        parts = [p for q in questions for p in split_question(q)]
        leaked = sum(1 for p in parts if p in self._seen)
        if leaked:
            console.print(
                f"[yellow]warning:[/yellow] {leaked:d} of {len(parts)} question parts are in run "
                f"{esc(self.run_dir.name)}'s training data: scores on them are not held-out scores",
                markup=True,
            )

    def answer(self, questions: Sequence[str]) -> list[str]:
        if self._pipe is None:
            raise RuntimeError("call fit() first")
        self._warn_leaks(questions)
        out: list[str] = []
        size = self.options.chunk_size
        for c, start in enumerate(range(0, len(questions), size)):
            out += [a.answer for a in self._pipe.answer(questions[start : start + size], seed_offset=c)]
        return out
