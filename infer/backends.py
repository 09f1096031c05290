"""Generation backends: a trained run (train/RUN_DIR.md) turned into `n` texts per prompt.

- `transformers`: left-padded batches of prompts sorted by token length, greedy or sampling,
  stopping on the tokenizer's EOS;
- `vllm` (used by `auto` when the `vllm` package is installed): the adapter is merged into the
  base weights first (LoRA serving costs throughput), then `vllm.LLM.generate`. NOTE: vLLM cannot
  be installed on the CPU machines this was written on; that path is untested here.

Both have `generate(prompts, *, n, max_new_tokens, batch_size, temperature, top_p, seed,
repetition_penalty)` → per prompt `n` texts (candidate 0 greedy), `backend` and `stats`.
`load_generator` loads one once per process and run folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.errors import ConfigError


@dataclass
class GenStats:
    prompts: int = 0
    new_tokens: int = 0
    seconds: float = 0.0


class TransformersGenerator:
    """`model.generate` on left-padded, length-sorted batches; candidate 1 greedy, the rest sampled."""

    backend = "transformers"

    def __init__(self, model, tokenizer) -> None:
        self.model, self.tokenizer = model, tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.eos_id = tokenizer.eos_token_id
        if self.eos_id is None:
            raise ConfigError("the run's tokenizer has no EOS token: generation could not stop")
        self.stats = GenStats()

    def _decode(self, row) -> tuple[str, int]:
        ids = row.tolist()
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id) + 1]
        n = len(ids)
        while ids and ids[-1] in (self.eos_id, self.tokenizer.pad_token_id):
            ids = ids[:-1]
        return self.tokenizer.decode(ids, skip_special_tokens=True).strip(), n

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int,
        max_new_tokens: int,
        batch_size: int,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int = 0,
        repetition_penalty: float = 1.0,
    ) -> list[list[str]]:
        """`n` texts per prompt, in prompt order (candidate 0 greedy)."""
        import torch

        tok = self.tokenizer
        side = tok.padding_side
        tok.padding_side = "left"
        device = next(self.model.parameters()).device
        lengths = [len(ids) for ids in tok(list(prompts))["input_ids"]]
        order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
        out: list[list[str]] = [[] for _ in prompts]
        t0 = time.perf_counter()
        try:
            for b, start in enumerate(range(0, len(order), batch_size)):
                idx = order[start : start + batch_size]
                enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True).to(device)
                width = enc["input_ids"].shape[1]
                common = dict(
                    max_new_tokens=max_new_tokens,
                    eos_token_id=self.eos_id,
                    pad_token_id=tok.pad_token_id,
                    repetition_penalty=repetition_penalty,
                )
                with torch.inference_mode():
                    greedy = self.model.generate(**enc, do_sample=False, **common)
                    for j, i in enumerate(idx):
                        text, k = self._decode(greedy[j, width:])
                        out[i].append(text)
                        self.stats.new_tokens += k
                    if n > 1:
                        torch.manual_seed(seed + b)
                        sampled = self.model.generate(
                            **enc,
                            do_sample=True,
                            temperature=temperature,
                            top_p=top_p,
                            num_return_sequences=n - 1,
                            **common,
                        )
                        for j, i in enumerate(idx):
                            for r in range(n - 1):
                                text, k = self._decode(sampled[j * (n - 1) + r, width:])
                                out[i].append(text)
                                self.stats.new_tokens += k
        finally:
            tok.padding_side = side
        self.stats.prompts += len(prompts)
        self.stats.seconds += time.perf_counter() - t0
        return out


class VLLMGenerator:
    """vLLM on the merged model. UNTESTED here: vLLM needs a GPU build that this machine lacks."""

    backend = "vllm"

    def __init__(self, run_dir: Path, card: dict[str, Any]) -> None:
        from vllm import LLM

        merged = merged_model_dir(run_dir, card)
        self.llm = LLM(model=str(merged), tokenizer=str(merged), dtype="auto")
        self.tokenizer = self.llm.get_tokenizer()
        self.stats = GenStats()

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int,
        max_new_tokens: int,
        batch_size: int,
        temperature: float = 0.8,
        top_p: float = 0.95,
        seed: int = 0,
        repetition_penalty: float = 1.0,
    ) -> list[list[str]]:
        from vllm import SamplingParams

        eos = [self.tokenizer.eos_token_id]
        t0 = time.perf_counter()
        greedy = self.llm.generate(
            list(prompts),
            SamplingParams(
                temperature=0.0,
                max_tokens=max_new_tokens,
                stop_token_ids=eos,
                repetition_penalty=repetition_penalty,
            ),
            use_tqdm=False,
        )
        out = [[o.outputs[0].text.strip()] for o in greedy]
        self.stats.new_tokens += sum(len(o.outputs[0].token_ids) for o in greedy)
        if n > 1:
            sampled = self.llm.generate(
                list(prompts),
                SamplingParams(
                    n=n - 1,
                    temperature=temperature,
                    top_p=top_p,
                    seed=seed,
                    max_tokens=max_new_tokens,
                    stop_token_ids=eos,
                    repetition_penalty=repetition_penalty,
                ),
                use_tqdm=False,
            )
            for texts, o in zip(out, sampled, strict=True):
                texts.extend(c.text.strip() for c in o.outputs)
                self.stats.new_tokens += sum(len(c.token_ids) for c in o.outputs)
        self.stats.prompts += len(prompts)
        self.stats.seconds += time.perf_counter() - t0
        return out


def merged_model_dir(run_dir: Path, card: dict[str, Any]) -> Path:
    """RUN_DIR/merged when the trainer saved it, else the adapter merged once into RUN_DIR/merged-infer."""
    run_dir = Path(run_dir)
    if card.get("merged_dir") and (run_dir / card["merged_dir"] / "config.json").exists():
        return run_dir / card["merged_dir"]
    target = run_dir / "merged-infer"
    if not (target / "config.json").exists():
        from qa.runs import load_run

        model, tokenizer, _ = load_run(run_dir, merge=True, device="cpu")
        tmp = run_dir / "merged-infer.tmp"
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    return target


def vllm_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


_LOADED: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}


def load_generator(run_dir: Path | str, backend: str = "auto"):
    """(generator, run card); loaded once per process and run folder."""
    from qa.runs import read_card

    run_dir = Path(run_dir)
    if backend == "auto":
        backend = "vllm" if vllm_available() else "transformers"
    if backend == "vllm" and not vllm_available():
        raise ConfigError(
            "backend vllm: the vllm package is not installed (pip install vllm, on a GPU machine)"
        )
    key = (str(run_dir.resolve()), backend)
    if key not in _LOADED:
        card = read_card(run_dir)
        if backend == "vllm":
            gen = VLLMGenerator(run_dir, card)
        else:
            from qa.runs import load_run

            model, tokenizer, card = load_run(run_dir)
            gen = TransformersGenerator(model, tokenizer)
        _LOADED[key] = (gen, card)
    return _LOADED[key]
