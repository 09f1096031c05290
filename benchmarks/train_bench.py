"""LoRA training throughput: tokens/s, peak memory and MFU, packed versus padded batches.

    python benchmarks/train_bench.py                      # CPU: small Qwen2-shaped model (a few minutes)
    python benchmarks/train_bench.py --model gemma3-270m  # the real base (GPU; on CPU use --steps 4)

Data: question/answer pairs of ../shared/data/dacon/dev.csv, encoded exactly as `dobae train`
does (shared prompt, answer-only labels, EOS). Each mode runs the transformers Trainer with the
same collators as the trainer, in its own subprocess (so peak memory is per mode):
- `padded`: random batches padded to the longest member (DataCollatorForSeq2Seq);
- `grouped`: padded, but length-grouped batches (the trainer's default: packing=false, group_by_length=true);
- `packed`:  padding-free packing of each micro-batch into one row (train.packing=true).
Tokens/s counts real (non-pad) tokens only, so the ratio packed/padded is the useful work gained.

FLOP accounting (per real token, LoRA, frozen base):
    forward 2·N, backward through the frozen weights 2·N (activation gradients only, no weight
    gradients), LoRA adapters 6·N_lora, attention 12·L·d·s̄ (scores + weighted sum, fwd + bwd,
    s̄ = mean attended length = mean sequence length / 2 under the causal mask)
    → FLOPs/token ≈ 4·N + 6·N_lora + 12·L·d·s̄, N = parameters in matrix products (incl. lm_head,
    excl. the embedding lookup). Padded modes spend FLOPs on pad tokens too; MFU counts useful work.
MFU = achieved FLOP/s ÷ peak. Peak: on GPU the spec sheet (H100 SXM bf16 dense 989 TFLOP/s, A100
312); on CPU no spec is reliable, so the peak is an fp32 matmul (2048²) measured in this run with the
same thread count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "dacon" / "dev.csv"
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402

GPU_PEAKS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def load_pairs(limit: int) -> list[tuple[str, str]]:
    import csv

    if not DEV.exists():
        sys.exit(f"{DEV} not found: the benchmark reads the DACON dev data from ../shared/data/dacon/")
    pairs = []
    with DEV.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            for q in ("질문_1", "질문_2"):
                for a in ("답변_1", "답변_2", "답변_3", "답변_4", "답변_5"):
                    pairs.append((row[q], row[a]))
    pairs = pairs[::7]  # spread over items
    return pairs[:limit]


def build_small_model(path: Path, pairs) -> None:
    """A Qwen2-shaped model (hidden 512, 4 layers, 8k byte-level BPE vocab) trained on nothing."""
    from train.tiny import TinyShape, build_tiny_causal_lm

    shape = TinyShape(
        hidden_size=512,
        intermediate_size=1536,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        initializer_range=None,
    )
    build_tiny_causal_lm(path, [q + "\n" + a for q, a in pairs], vocab_size=8000, shape=shape)


def matmul_peak(device: str, dtype) -> float:
    import torch

    n = 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    reps = 5 if device == "cpu" else 50
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def run_mode(args) -> dict:
    """One mode in this process: Trainer for `steps` steps; prints a JSON line."""
    import resource

    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        DataCollatorWithFlattening,
        Trainer,
        TrainingArguments,
    )

    from train.data import encode_example

    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    tok = AutoTokenizer.from_pretrained(args.model_path)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    pairs = load_pairs(args.examples)
    rows = [encode_example(tok, q, a, args.max_length) for q, a in pairs]
    for r in rows:
        r["length"] = len(r["input_ids"])
    model = AutoModelForCausalLM.from_pretrained(args.model_path, dtype=torch.float32)
    model.config.use_cache = False  # as the trainer does: packed rows are detected only without a cache
    n_matmul = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    if model.get_output_embeddings() is not None and model.config.tie_word_embeddings:
        pass  # tied lm_head is an nn.Linear sharing the embedding matrix: counted once above
    cfgm = model.config
    model = get_peft_model(
        model,
        LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear"),
    )
    n_lora = sum(p.numel() for p in model.parameters() if p.requires_grad)
    ds = Dataset.from_list(rows)
    if args.mode == "packed":
        collator, ds = DataCollatorWithFlattening(), ds.remove_columns("length")
    else:
        collator = DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=-100)
    targs = TrainingArguments(
        output_dir=str(Path(args.work) / f"ckpt-{args.mode}"),
        max_steps=args.steps + args.warmup,
        per_device_train_batch_size=args.batch_size,
        learning_rate=1e-4,
        save_strategy="no",
        report_to="none",
        remove_unused_columns=False,
        bf16=cuda,
        use_cpu=not cuda,
        disable_tqdm=True,
        logging_strategy="no",
        train_sampling_strategy="group_by_length" if args.mode == "grouped" else "random",
        length_column_name="length",
        seed=0,
    )
    from transformers import TrainerCallback

    timing: dict = {}

    class Clock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            if state.global_step == args.warmup:
                if cuda:
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                timing["t0"] = time.perf_counter()

    real = {"tokens": 0, "slots": 0, "seqlen_sum": 0, "seqs": 0}
    base_collate = collator

    def counting(features):
        batch = base_collate(features)
        if timing.get("t0") is not None:
            real["tokens"] += sum(len(f["input_ids"]) for f in features)
            real["slots"] += batch["input_ids"].numel()
            real["seqlen_sum"] += sum(len(f["input_ids"]) for f in features)
            real["seqs"] += len(features)
        return batch

    trainer = Trainer(model=model, args=targs, train_dataset=ds, data_collator=counting, callbacks=[Clock()])
    trainer.train()
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - timing["t0"]
    # the collator runs one batch ahead of the step; the over-count is at most one batch
    mean_len = real["seqlen_sum"] / max(real["seqs"], 1)
    L, d = cfgm.num_hidden_layers, cfgm.hidden_size
    flops_tok = 4 * n_matmul + 6 * n_lora + 12 * L * d * (mean_len / 2)
    tps = real["tokens"] / elapsed
    peak_mem = (
        torch.cuda.max_memory_allocated()
        if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    return {
        "mode": args.mode,
        "tokens_per_s": tps,
        "slot_fill": real["tokens"] / max(real["slots"], 1),
        "flops_per_token": flops_tok,
        "achieved_flops": tps * flops_tok,
        "peak_mem_bytes": peak_mem,
        "n_matmul": n_matmul,
        "n_lora": n_lora,
        "mean_len": mean_len,
        "steps": args.steps,
        "seconds": elapsed,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--model", default="small", help="'small' (built here), 'gemma3-270m' (prepared), or a folder"
    )
    p.add_argument("--steps", type=int, default=None, help="timed steps per mode")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--examples", type=int, default=800)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", default="/tmp/dobae-train-bench")
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--model-path", help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    if args.mode:  # child
        print("RESULT " + json.dumps(run_mode(args)), flush=True)
        return

    import torch

    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    steps = args.steps or (30 if cuda else 20)
    bs = args.batch_size or (32 if cuda else 8)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.model == "small":
        model_path = work / "small-qwen2"
        if not (model_path / "config.json").exists():
            build_small_model(model_path, load_pairs(10_000))
    else:
        from train.models import resolve_base_model

        model_path = Path(resolve_base_model(args.model).path)

    if cuda:
        name = torch.cuda.get_device_name(0)
        peak = next((v for k, v in GPU_PEAKS.items() if k in name), None)
        peak_src = f"{name} bf16 dense spec sheet" if peak else "unknown GPU: measured bf16 matmul"
        if peak is None:
            peak = matmul_peak("cuda", torch.bfloat16)
    else:
        peak = matmul_peak("cpu", torch.float32)
        peak_src = f"fp32 2048² matmul measured now, {args.threads} thread(s)"

    print(f"machine: {describe(torch=True)}")
    print(
        f"model: {args.model} ({model_path}), LoRA r=16 all-linear, batch {bs}, max_length {args.max_length}, "
        f"{steps} timed steps after {args.warmup} warm-up, {'bf16 GPU' if cuda else 'fp32 CPU'}"
    )
    print(f"peak for MFU: {peak / 1e9:.1f} GFLOP/s ({peak_src})")
    results = {}
    for mode in ("padded", "grouped", "packed"):
        cmd = [
            sys.executable,
            __file__,
            "--mode",
            mode,
            "--model-path",
            str(model_path),
            "--steps",
            str(steps),
            "--warmup",
            str(args.warmup),
            "--batch-size",
            str(bs),
            "--max-length",
            str(args.max_length),
            "--examples",
            str(args.examples),
            "--threads",
            str(args.threads),
            "--work",
            str(work),
        ]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"mode {mode} failed:\n{res.stderr[-3000:]}")
        results[mode] = json.loads(line[7:])
    first = results["padded"]
    print(
        f"N (matmul params) {first['n_matmul'] / 1e6:.1f} M, N_lora {first['n_lora'] / 1e6:.2f} M, "
        f"mean sequence {first['mean_len']:.1f} tokens, FLOPs/token ≈ {first['flops_per_token'] / 1e6:.1f} M"
    )
    print(f"{'mode':8} {'tokens/s':>10} {'vs padded':>10} {'real/slots':>11} {'MFU':>7} {'peak mem':>10}")
    for mode, r in results.items():
        print(
            f"{mode:8} {r['tokens_per_s']:10.0f} {r['tokens_per_s'] / first['tokens_per_s']:9.2f}x "
            f"{r['slot_fill']:10.0%} {r['achieved_flops'] / peak:7.1%} {r['peak_mem_bytes'] / 2**20:8.0f} MiB"
        )


if __name__ == "__main__":
    main()
