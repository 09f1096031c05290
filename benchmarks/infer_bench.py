"""Generation throughput of `dobae infer`'s transformers backend: answers/s and new tokens/s,
length-sorted left-padded batches versus one question at a time (ratio), same run, same questions.

    python benchmarks/infer_bench.py --run RUN_DIR              # a trained run (e.g. Gemma-3-270M + LoRA)
    python benchmarks/infer_bench.py --run RUN_DIR --questions 32 --batch-size 16 --max-new-tokens 64

Questions: the first 질문_1 of ../shared/data/dacon/dev.csv rows (shared prompt, greedy, stop on
EOS). Both modes generate the same prompts; the benchmark also counts how many greedy answers are
identical between the modes (left padding must not change greedy outputs; fp32 on CPU).
Without --run it trains nothing: pass a finished run folder (train/RUN_DIR.md).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "dacon" / "dev.csv"
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402


def questions(n: int) -> list[str]:
    with DEV.open(encoding="utf-8-sig") as fh:
        return [r["질문_1"] for r in csv.DictReader(fh)][:n]


def timed(gen, prompts, batch_size, max_new_tokens):
    t0, tok0 = time.perf_counter(), gen.stats.new_tokens
    out = gen.generate(prompts, n=1, max_new_tokens=max_new_tokens, batch_size=batch_size)
    return out, time.perf_counter() - t0, gen.stats.new_tokens - tok0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, type=Path, help="finished training run folder")
    ap.add_argument("--questions", type=int, default=16, help="dev.csv questions to answer")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from infer.backends import load_generator
    from qa.prompt import build_prompt

    gen, card = load_generator(args.run, "transformers")
    prompts = [build_prompt(q) for q in questions(args.questions)]
    timed(gen, prompts[:2], 2, 4)  # warm-up
    single, t1, k1 = timed(gen, prompts, 1, args.max_new_tokens)
    batched, tb, kb = timed(gen, prompts, args.batch_size, args.max_new_tokens)
    same = sum(a == b for a, b in zip(single, batched, strict=True))
    n = len(prompts)
    print(f"machine: {describe(torch=True)}")
    print(
        f"run: {card['name']} (base {card['base_model']['spec']}), {n} questions, greedy, "
        f"max_new_tokens {args.max_new_tokens}, device {next(gen.model.parameters()).device}"
    )
    print(f"one at a time : {n / t1:7.3f} answers/s  {k1 / t1:8.1f} new tokens/s  ({t1:.1f} s, {k1} tokens)")
    print(
        f"batch {args.batch_size:>3}     : {n / tb:7.3f} answers/s  {kb / tb:8.1f} new tokens/s  "
        f"({tb:.1f} s, {kb} tokens)"
    )
    print(f"ratio batched / one at a time: {t1 / tb:.2f}x answers/s; identical greedy answers: {same}/{n}")


if __name__ == "__main__":
    main()
