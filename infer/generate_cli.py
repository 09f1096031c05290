"""`dobae infer`: answer a questions file with a trained run (library: `infer.generate.run_infer`)."""

from __future__ import annotations

from pathlib import Path

import typer

from foundation.console import console, out


def infer_cmd(
    run: Path = typer.Option(..., "--run", help="training run folder (train/RUN_DIR.md)"),
    questions: Path = typer.Option(..., "--questions", help="CSV with id and 질문 columns (DACON test.csv)"),
    out_path: Path = typer.Option(..., "--out", help="answers CSV to write (id, 질문, answer)"),
    batch_size: int = typer.Option(8, "--batch-size", "-b", min=1, help="prompts per generate() call"),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens", min=1, help="default: the run card's"),
    n: int = typer.Option(
        1, "--candidates", "-n", min=1, help="candidates per question part (greedy + samples)"
    ),
    temperature: float = typer.Option(0.8, "--temperature", help="sampling temperature of candidates 2..n"),
    top_p: float = typer.Option(0.95, "--top-p", help="nucleus sampling of candidates 2..n"),
    repetition_penalty: float = typer.Option(
        1.0, "--repetition-penalty", help="> 1 discourages repeated words (e.g. 1.2); 1 = off"
    ),
    context_k: int = typer.Option(
        None, "--context-k", min=0, help="retrieved pairs in the prompt (default: as the run was trained)"
    ),
    select: str = typer.Option(
        "reference", "--select", help="first | reference | question | mbr | reference+mbr | term=w,…"
    ),
    split: bool = typer.Option(True, "--split/--no-split", help="answer the parts of compound questions"),
    pool: bool = typer.Option(
        False,
        "--pool/--no-pool",
        help="add the compose answerer's answer and best sentences to the candidates (selection picks)",
    ),
    pairs: Path = typer.Option(
        None, "--pairs", help="JSONL export to retrieve from (default: the run's training data)"
    ),
    backend: str = typer.Option("auto", "--backend", help="auto | transformers | vllm"),
    embedder: str = typer.Option(None, "--embedder", "-e", help="embedder for retrieval and selection"),
    seed: int = typer.Option(42, "--seed", help="sampling seed"),
    chunk_size: int = typer.Option(32, "--chunk-size", min=1, help="questions per resumable chunk"),
    force: bool = typer.Option(False, "--force", help="overwrite an existing --out"),
) -> None:
    """Generate answers for a questions file with a trained LoRA run: length-sorted left-padded batches,
    compound questions split and joined, optional retrieved context and candidate selection. A killed
    job started again with the same arguments resumes from OUT.partial.jsonl.

    Example: `dobae infer --run runs/gemma --questions test.csv --out out/answers.csv -n 4 --select reference`
    """
    from pydantic import ValidationError

    from foundation.console import progress
    from foundation.errors import ConfigError
    from infer.generate import InferOptions, run_infer

    try:
        opts = InferOptions(
            backend=backend,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            n=n,
            temperature=temperature,
            top_p=top_p,
            repetition_penalty=repetition_penalty,
            context_k=context_k,
            select=select,
            split=split,
            pool=pool,
            seed=seed,
            chunk_size=chunk_size,
        )
        from infer.select import parse_weights

        parse_weights(opts.select)
    except (ValidationError, ValueError) as exc:
        raise ConfigError(
            str(exc).splitlines()[0]
            if not isinstance(exc, ValidationError)
            else "; ".join(f"--{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        ) from None
    state = {"t0": None, "start": 0}
    import time

    bar = progress()  # started on the first report, after the inputs and the run were checked
    task = bar.add_task("answering", total=None)

    def on_progress(done: int, total: int) -> None:
        if state["t0"] is None:
            bar.start()
            state["t0"], state["start"] = time.perf_counter(), done
        dt = time.perf_counter() - state["t0"]
        rate = (done - state["start"]) / dt if dt > 0 else 0.0
        bar.update(task, total=total, completed=done, description=f"answering ({rate:.2f} answers/s)")

    try:
        s = run_infer(
            run,
            questions,
            out_path,
            opts,
            pairs_path=pairs,
            embedder_spec=embedder,
            force=force,
            on_progress=on_progress,
        )
    finally:
        bar.stop()
    new = s.questions - s.resumed
    rate = new / s.seconds if s.seconds > 0 else 0.0
    tps = s.new_tokens / s.seconds if s.seconds > 0 else 0.0
    out.print(
        f"wrote {s.out} ({s.questions} answers; {s.resumed} resumed, {new} generated in {s.seconds:.1f} s: "
        f"{rate:.2f} answers/s, {tps:.1f} new tokens/s, backend {s.backend}) and details in {s.details}"
    )
    if s.resumed:
        console.print(f"resumed: {s.resumed} answers came from an earlier, interrupted run")
