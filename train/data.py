"""Training data: read a JSONL export of approved pairs (validated, sha256 recorded), split it by
group (paraphrases of one item never straddle train and validation; a pair built from several
groups, such as a compound question, is held out when ANY of them is), and tokenise it with the
shared prompt template so that the loss falls on the answer tokens only.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from foundation.errors import InputError
from qa.pairs import Pair, drop_groups

IGNORE_INDEX = -100


def split_by_group(
    pairs: list[Pair], val_fraction: float, seed: int, min_val_groups: int = 1
) -> tuple[list[Pair], list[Pair]]:
    """(train, validation): whole groups go to one side, chosen by a seeded shuffle.

    Groups are drawn among the pairs' own groups. A pair built from several groups (a compound,
    a seeded pair) trains only if none of them is held out, and validates only if all of them
    are; a pair straddling both sides is left out of both (len(pairs) - len(train) - len(val)).
    """
    groups = sorted({p.group_id for p in pairs})
    if val_fraction <= 0:
        return list(pairs), []
    n_val = max(min_val_groups, round(len(groups) * val_fraction))
    if n_val >= len(groups):
        raise InputError(
            f"only {len(groups)} group(s) in the export: too few to hold {n_val} out for validation "
            "(lower data.val_fraction or set it to 0)"
        )
    rng = random.Random(seed)
    shuffled = groups[:]
    rng.shuffle(shuffled)
    val_groups = set(shuffled[:n_val])
    train = drop_groups(pairs, val_groups)
    val = [p for p in pairs if val_groups.issuperset(p.groups)]
    return train, val


def metric_items(val: list[Pair], max_questions: int) -> list[tuple[str, list[str]]]:
    """(question, reference answers) per validation group: the group's first question against all
    of its distinct answers (like DACON: one question, five reference answers). Pairs built from
    several groups are left out (a compound's joined answer is no reference for one question)."""
    by_group: dict[str, list[Pair]] = {}
    for p in val:
        if len(p.groups) > 1:
            continue
        by_group.setdefault(p.group_id, []).append(p)
    items = []
    for gid in sorted(by_group)[:max_questions]:
        ps = by_group[gid]
        answers = list(dict.fromkeys(p.answer for p in ps))
        items.append((ps[0].question, answers))
    return items


def encode_example(
    tokenizer,
    question: str,
    answer: str,
    max_length: int,
    context: Sequence[tuple[str, str]] = (),
) -> dict[str, list[int]]:
    """input_ids = prompt ids + answer ids + EOS; labels = -100 on the prompt, ids on answer + EOS.

    Prompt and answer are tokenised separately, so the prompt's ids are exactly what the inferencer
    gets from tokenising `build_prompt(question, context)` (no merge across the boundary). `context`
    holds retrieved (question, answer) pairs, most relevant first (see `encode_with_context`).
    Too long: the answer is cut (the prompt is kept whole unless it alone exceeds max_length), EOS
    is always last.
    """
    return encode_with_context(tokenizer, question, answer, max_length, context)[0]


def encode_with_context(
    tokenizer,
    question: str,
    answer: str,
    max_length: int,
    context: Sequence[tuple[str, str]] = (),
) -> tuple[dict[str, list[int]], int]:
    """(`encode_example`'s dict, context pairs kept).

    When prompt + answer + EOS exceed max_length, the least relevant context pairs are dropped
    first (whole pairs, never a cut one: the model sees the format inference uses); only a prompt
    without context cuts the answer.
    """
    from qa.prompt import build_example

    eos = tokenizer.eos_token_id
    if eos is None:
        raise InputError("the tokenizer has no EOS token: the model could not learn where an answer ends")
    context = list(context)
    prompt, completion = build_example(question, answer, context)
    a_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
    p_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    while context and len(p_ids) + len(a_ids) + 1 > max_length:
        context.pop()
        p_ids = tokenizer(build_example(question, answer, context)[0], add_special_tokens=True)["input_ids"]
    room = max_length - 1 - len(p_ids)
    if room < 1:
        p_ids = p_ids[: max_length - 2]
        room = 1
    a_ids = a_ids[:room] + [eos]
    return {
        "input_ids": p_ids + a_ids,
        "labels": [IGNORE_INDEX] * len(p_ids) + a_ids,
    }, len(context)
