"""The competition metric during training: greedy answers with the shared prompt, embedded and
scored like DACON (qa/scoring.py). The trainer scores each epoch's end and the final step."""

from __future__ import annotations

from typing import Any


def generate_answers(
    model,
    tokenizer,
    questions: list[str],
    max_new_tokens: int,
    batch_size: int,
    contexts: list[list[tuple[str, str]]] | None = None,
) -> list[str]:
    """Greedy answers for `questions` with the shared prompt (left-padded batches); `contexts[i]`
    are the retrieved pairs of question i when the run trains with context."""
    import torch

    from qa.prompt import build_prompt

    was_training = model.training
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    answers: list[str] = []
    try:
        for i in range(0, len(questions), batch_size):
            prompts = [
                build_prompt(q, contexts[j] if contexts else ())
                for j, q in enumerate(questions[i : i + batch_size], i)
            ]
            enc = tokenizer(prompts, return_tensors="pt", padding=True).to(device)
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    use_cache=True,
                    eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            answers.extend(t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = side
        if was_training:
            model.train()
    return answers


def competition_metric(
    model, tokenizer, items, embedder, max_new_tokens: int, batch_size: int, contexts=None
) -> dict[str, Any]:
    """generate → embed → score (qa/scoring.py): mean clipped cosine over validation questions."""
    from qa.scoring import score_texts

    questions = [q for q, _ in items]
    answers = generate_answers(model, tokenizer, questions, max_new_tokens, batch_size, contexts)
    res = score_texts(answers, [refs for _, refs in items], embedder)
    return {"metric": round(res.mean, 6), "n": len(items), "example": answers[0][:200] if answers else ""}
