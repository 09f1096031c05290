"""Offline augmentation with the model the project ships: Gemma-3-270M (base) on the CPU.

Imports the DACON rows into a throwaway database, serves the prepared model with
`transformers serve` (one thread), and runs question paraphrases and keyword extraction on the
first pair of the first N items (`--limit`, default 100) in completion mode: few-shot prompts from
approved items of the same category through `/v1/completions`, cut at a newline. Baseline in the
same run: chat mode (the instruction prompt the shipped base model echoes) on `--baseline` items.

Prints the share of outputs that pass the gates (a paraphrase: approved; a keyword set: at least
one keyword that occurs in the pair), the reasons, wall and server-CPU seconds per item, and
writes `--samples` random samples of each as Markdown (`--out`).

Run: `python benchmarks/augment_offline_bench.py --train ../shared/data/dacon/dev.csv \
      --test ../shared/data/dacon/test.csv --model data/cache/models/gemma3-270m`
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(op: str, mode: str, limit: int, srv, url: str, max_tokens: int) -> dict:
    from sqlalchemy import select

    from augment.operations import Selection
    from augment.runner import run_operation
    from db.models import Generation, Keyword, PairKeyword, QAPair, Review
    from db.session import session_scope
    from foundation.settings import reset_settings

    os.environ.update(
        {
            "DOBAE_LLM__BASE_URL": srv.base_url,
            "DOBAE_LLM__MODEL": srv.model,
            "DOBAE_LLM__MODE": mode,
            "DOBAE_LLM__CONCURRENCY": "1",
            "DOBAE_LLM__MAX_TOKENS": str(max_tokens),
            "DOBAE_LLM__TEMPERATURE": "0.7",
        }
    )
    reset_settings()
    cpu0, t0 = server_cpu_s(srv.pid), time.perf_counter()
    sel = (
        Selection(limit=limit)
        if op == "from-docs"
        else Selection(source="dacon", limit=limit, one_per_group=True)
    )
    summary = run_operation(op, sel, url=url)
    wall, cpu = time.perf_counter() - t0, server_cpu_s(srv.pid) - cpu0
    with session_scope(url) as s:
        gens = s.scalars(select(Generation).where(Generation.job_id == summary.job_id)).all()
        gen_ids = [g.id for g in gens]
        if op == "keywords":
            kept = {g.id: (g.params or {}).get("kept", []) for g in gens}
            dropped = {g.id: (g.params or {}).get("dropped_not_in_text", []) for g in gens}
            passed = sum(1 for g in gens if kept[g.id])
            src = {g.id: (g.params or {}).get("item") for g in gens}
            samples = [
                {"item": src[g.id], "kept": kept[g.id], "dropped": dropped[g.id], "raw": g.raw_output}
                for g in gens
            ]
            n = len(gens)
            reasons = Counter(g.status for g in gens)
            del Keyword, PairKeyword
        else:
            rows = s.execute(
                select(QAPair, Review, Generation)
                .join(Review, Review.pair_id == QAPair.id)
                .join(Generation, Generation.id == QAPair.generation_id)
                .where(QAPair.generation_id.in_(gen_ids))
            ).all()
            parents = {p.parent_id for p, _, _ in rows}
            parent_q = dict(
                s.execute(select(QAPair.id, QAPair.question_text).where(QAPair.id.in_(parents))).all()
            )
            chunk_text = {}
            if op == "from-docs":
                from db.models import DocChunk

                chunk_ids = {p.chunk_id for p, _, _ in rows}
                chunk_text = dict(
                    s.execute(select(DocChunk.id, DocChunk.text).where(DocChunk.id.in_(chunk_ids))).all()
                )
            n = len(rows)
            passed = sum(1 for _, r, _ in rows if r.status.value == "approved")
            reasons = Counter(x for _, r, _ in rows for x in (r.reasons or ["approved"]))
            samples = [
                {"source": parent_q.get(p.parent_id) if op != "from-docs" else chunk_text.get(p.chunk_id, "")[:80] + "…",
                 "output": p.question_text if op != "from-docs" else f"{p.question_text} → {p.answer_text}",
                 "status": r.status.value, "reasons": r.reasons}
                for p, r, _ in rows
            ]  # fmt: skip
    return {
        "op": op,
        "mode": mode,
        "items": summary.total,
        "outputs": n,
        "passed": passed,
        "reasons": reasons,
        "wall_s": wall,
        "server_cpu_s": cpu,
        "tokens_out": summary.tokens_out,
        "samples": samples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--test", type=Path)
    ap.add_argument("--model", type=Path, required=True, help="prepared model folder (dobae models prepare)")
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--baseline", type=int, default=10, help="items for the chat-mode baseline")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--out", type=Path, help="write the samples as Markdown here")
    ap.add_argument("--ops", default="paraphrase-questions,keywords")
    args = ap.parse_args()
    print(describe(torch=True))

    from augment.server import local_server
    from db.dacon import import_dacon
    from db.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="dobae-offline-"))
    os.environ["DOBAE_DATA_DIR"] = str(tmp)
    os.environ.setdefault("DOBAE_EMBEDDER", "muse3")
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    import_dacon(args.train, args.test, url=url)
    if "from-docs" in args.ops:
        from augment.documents import add_documents
        from augment.reference_set import reference_sources

        add_documents(reference_sources(), note="reference set", url=url)
    results = []
    with local_server(args.model, threads=1, startup_timeout_s=600) as srv:
        for op in args.ops.split(","):
            mt = {"paraphrase-questions": 64, "keywords": 48}.get(op, 160)
            results.append(run(op, "completion", args.limit, srv, url, mt))
            if args.baseline:
                results.append(run(op, "chat", args.baseline, srv, url, 128))
    print(f"\n{'operation':22} {'mode':10} {'items':>5} {'outputs':>7} {'passed':>7} {'share':>6} "
          f"{'wall s/item':>11} {'cpu s/item':>10}")  # fmt: skip
    for r in results:
        share = r["passed"] / r["outputs"] if r["outputs"] else 0.0
        print(
            f"{r['op']:22} {r['mode']:10} {r['items']:5d} {r['outputs']:7d} {r['passed']:7d} {share:6.1%} "
            f"{r['wall_s'] / max(1, r['items']):11.2f} {r['server_cpu_s'] / max(1, r['items']):10.2f}"
        )
        print("    reasons: " + ", ".join(f"{k} {v}" for k, v in r["reasons"].most_common()))
    comp = {r["op"]: r for r in results if r["mode"] == "completion"}
    for r in results:
        if r["mode"] == "chat" and r["op"] in comp and r["outputs"]:
            c = comp[r["op"]]
            base = r["passed"] / r["outputs"]
            ratio = (c["passed"] / max(1, c["outputs"])) / base if base else float("inf")
            print(f"{r['op']}: completion / chat pass share = {ratio:.2f}x (chat {base:.1%})")
    if args.out:
        rng = random.Random(0)
        lines = []
        for r in results:
            if r["mode"] != "completion":
                continue
            lines.append(f"### {r['op']} — {args.samples} random samples (completion mode)\n")
            picked = rng.sample(r["samples"], min(args.samples, len(r["samples"])))
            if r["op"] == "keywords":
                lines.append("| item | kept (in the pair's text) | dropped |\n|---|---|---|")
                for x in picked:
                    lines.append(
                        f"| {x['item']} | {', '.join(x['kept']) or '–'} | {', '.join(x['dropped']) or '–'} |"
                    )
            else:
                head = (
                    "chunk | question → answer" if r["op"] == "from-docs" else "source question | paraphrase"
                )
                lines.append(f"| {head} | verdict |\n|---|---|---|")
                for x in picked:
                    verdict = x["status"] + (f" ({', '.join(x['reasons'])})" if x["reasons"] else "")
                    out = (x["output"] or "").replace("|", "/").replace("\n", " ")[:240]
                    src = (x["source"] or "").replace("|", "/").replace("\n", " ")
                    lines.append(f"| {src} | {out} | {verdict} |")
            lines.append("")
        args.out.write_text("\n".join(lines), encoding="utf-8")
        print(f"samples written to {args.out}")


if __name__ == "__main__":
    main()
