"""Training with retrieved context (`data.context_k > 0`): the prompts hold k retrieved training
pairs, never one of the example's own group; the mask stays answer-only; a run with context trains,
generates, and is served with its k (tiny model built at test time, real mUSE v3 retriever)."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass

import pytest

from qa.pairs import read_export
from qa.prompt import ANSWER_PREFIX, CONTEXT_HEADER, QUESTION_PREFIX, build_prompt
from tests.train.conftest import ITEMS, write_config
from train.data import IGNORE_INDEX, encode_with_context

GROUP_OF_QUESTION = {q: g for g, q, _ in ITEMS}
GROUP_OF_ANSWER = {a: g for g, _, answers in ITEMS for a in answers}
CONTEXT_PAIR = re.compile(
    rf"\[(\d+)\] {re.escape(QUESTION_PREFIX)}(.*?)\n{re.escape(ANSWER_PREFIX)}(.*?)\n", re.S
)


@pytest.fixture(scope="module")
def muse():
    from qa.embedders import Muse3Embedder

    return Muse3Embedder(threads=1)


def parse_prompt(prompt: str) -> tuple[list[tuple[str, str]], str]:
    """(context pairs, question) of a prompt made by build_prompt."""
    context: list[tuple[str, str]] = []
    if prompt.startswith(CONTEXT_HEADER):
        block, prompt = prompt.split("\n\n", 1)
        context = [(q, a) for _, q, a in CONTEXT_PAIR.findall(block + "\n")]
    assert prompt.startswith(QUESTION_PREFIX) and prompt.endswith(ANSWER_PREFIX), prompt
    return context, prompt[len(QUESTION_PREFIX) : -len(ANSWER_PREFIX) - 1]


def test_retrieved_context_has_k_pairs_never_from_the_own_group(export_file, muse):
    from qa.retrieval import make_retriever
    from train.context import excluded_groups, retrieve_contexts

    pairs = read_export(export_file).pairs
    retriever = make_retriever(pairs, muse)
    questions, groups = [p.question for p in pairs], [p.group_id for p in pairs]
    assert excluded_groups(pairs, pairs) == [{g} for g in groups]  # one group per pair here
    # without the exclusion every question finds its own group first (the case the trainer guards)
    plain = retriever.retrieve_many(questions, 1)
    assert all(GROUP_OF_QUESTION[r[0][0]] == g for r, g in zip(plain, groups, strict=True))

    contexts = retrieve_contexts(retriever, questions, excluded_groups(pairs, pairs), 3)
    assert len(contexts) == len(pairs)
    for p, ctx in zip(pairs, contexts, strict=True):
        assert len(ctx) == 3
        ctx_groups = [GROUP_OF_QUESTION[q] for q, _ in ctx]
        assert p.group_id not in ctx_groups and p.group_id not in [GROUP_OF_ANSWER[a] for _, a in ctx]
        assert len(set(ctx_groups)) == 3  # three different items
        prompt = build_prompt(p.question, ctx)
        assert parse_prompt(prompt) == (ctx, p.question)
    # the order is the retriever's: the same as serving asks for (minus the own group)
    wider = retriever.retrieve_many(questions[:1], 4)[0]
    assert [(q, a) for q, a, _ in wider if GROUP_OF_QUESTION[q] != groups[0]][:3] == contexts[0]


@dataclass(frozen=True)
class MultiGroupPair:
    """A pair as the export describes one built from several groups (`source_groups`)."""

    id: str
    group_id: str
    question: str
    answer: str
    groups: tuple[str, ...]
    category: str = ""


def test_pairs_built_from_several_groups_are_never_retrieved_for_those_groups(muse):
    """A compound made of g1 and g2 holds g1's answer: g1's examples must not see it, and the
    compound's own example must see neither g1 nor g2."""
    from qa.retrieval import make_retriever
    from train.context import excluded_groups, retrieve_contexts

    single = [
        MultiGroupPair(f"{g}-{j}", g, q, a, (g,)) for g, q, answers in ITEMS for j, a in enumerate(answers)
    ]
    (g1, q1, (a1, _)), (g2, q2, (a2, _)) = ITEMS[0], ITEMS[1]
    compound = MultiGroupPair("c", "c1", f"{q1} 또한, {q2}", f"{a1} {a2}", ("c1", g1, g2))
    corpus = [*single, compound]
    exclude = excluded_groups(corpus, corpus)
    assert exclude[0] == {g1, "c1"} and exclude[-1] == {"c1", g1, g2}
    assert exclude[len(single) - 1] == {ITEMS[-1][0]}  # an unrelated group excludes only itself

    retriever = make_retriever(corpus, muse)
    plain = retriever.retrieve_many([q1], 2)[0]
    assert compound.question in [q for q, _, _ in plain]  # the compound is near g1's question
    contexts = retrieve_contexts(retriever, [p.question for p in corpus], exclude, 3)
    for p, ctx, ex in zip(corpus, contexts, exclude, strict=True):
        assert len(ctx) == 3
        got = {"c1" if q == compound.question else GROUP_OF_QUESTION[q] for q, _ in ctx}
        assert not got & ex, (p.id, got, ex)


def test_answer_only_mask_with_context_token_by_token(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    (_, q, (a, _)), ctx = ITEMS[0], [(ITEMS[1][1], ITEMS[1][2][0]), (ITEMS[2][1], ITEMS[2][2][0])]
    ex, kept = encode_with_context(tok, q, a, 250, ctx)
    assert kept == 2
    prompt_ids = tok(build_prompt(q, ctx))["input_ids"]
    answer_ids = tok(a, add_special_tokens=False)["input_ids"]
    assert ex["input_ids"] == prompt_ids + answer_ids + [tok.eos_token_id]
    for i, (tid, lab) in enumerate(zip(ex["input_ids"], ex["labels"], strict=True)):
        if i < len(prompt_ids):  # the context's answers are prompt: no loss on them
            assert lab == IGNORE_INDEX, f"prompt token {i} ({tok.decode([tid])!r}) carries loss"
        else:
            assert lab == tid, f"answer token {i} ({tok.decode([tid])!r}) has no loss"
    assert tok.decode([t for t in ex["labels"] if t != IGNORE_INDEX], skip_special_tokens=True) == a

    # too long: the least relevant pair goes first, whole; the answer stays whole
    one_pair = len(tok(build_prompt(q, ctx[:1]))["input_ids"]) + len(answer_ids) + 1
    ex1, kept1 = encode_with_context(tok, q, a, one_pair, ctx)
    assert kept1 == 1 and len(ex1["input_ids"]) == one_pair
    assert ex1["input_ids"][: -len(answer_ids) - 1] == tok(build_prompt(q, ctx[:1]))["input_ids"]
    ex0, kept0 = encode_with_context(tok, q, a, one_pair - 1, ctx)
    assert kept0 == 0 and ex0["labels"][-len(answer_ids) - 1 :] == answer_ids + [tok.eos_token_id]


def test_run_with_context_trains_generates_and_is_served_with_its_k(
    tmp_path, tiny_model, export_file, isolated_settings, muse
):
    from transformers import TrainerCallback

    from infer.generate import InferOptions, run_infer
    from infer.llm import LLMAnswerer
    from qa.runs import load_run
    from train.config import load_config
    from train.trainer import run_training

    seen = {}

    class Capture(TrainerCallback):
        def on_train_begin(self, args, state, control, train_dataloader=None, **kw):
            seen["rows"] = list(train_dataloader.dataset)

    cfg = load_config(
        write_config(tmp_path / "t.toml", model=tiny_model, export=export_file, out=tmp_path / "runs"),
        ["data.context_k=2", "train.max_length=220", "output.register_run=false"],
    )
    res = run_training(cfg, embedder=muse, callbacks=[Capture()])
    card = res.card

    # the examples the Trainer really trained on: k pairs each, none of the own group, mask on the answer
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows = seen["rows"]
    assert len(rows) == card["data"]["train_rows"]
    train_groups, context_groups = set(), set()
    for row in rows:
        ids, labels = row["input_ids"], row["labels"]
        n_prompt = labels.index(next(t for t in labels if t != IGNORE_INDEX))
        assert all(lab == IGNORE_INDEX for lab in labels[:n_prompt])
        assert labels[n_prompt:] == ids[n_prompt:] and ids[-1] == tok.eos_token_id
        ctx, question = parse_prompt(tok.decode(ids[:n_prompt], skip_special_tokens=True))
        answer = tok.decode(ids[n_prompt:], skip_special_tokens=True)
        group = GROUP_OF_QUESTION[question]
        assert GROUP_OF_ANSWER[answer] == group
        assert len(ctx) == 2
        assert all(GROUP_OF_QUESTION[q] != group and GROUP_OF_ANSWER[a] != group for q, a in ctx)
        train_groups.add(group)
        context_groups |= {GROUP_OF_QUESTION[q] for q, _ in ctx}
    assert context_groups <= train_groups  # retrieved from the training split only

    # the run card records k and the retriever, so serving can use the same
    assert card["status"] == "finished"
    ctx_card = card["context"]
    assert ctx_card["k"] == 2 and ctx_card["embedder_spec"] == "muse3" and ctx_card["embedder"] == muse.name
    assert ctx_card["retriever"]["k"] >= 2 and ctx_card["examples_with_fewer_pairs"] == 0
    assert ctx_card["pairs_per_example"] == 2
    assert 0.0 <= card["metrics"]["metric"] <= 1.0  # the epoch metric generated with context

    # the adapter loads back and generates from a prompt with context
    model, tokenizer, _ = load_run(res.run_dir)
    enc = tokenizer(build_prompt(ITEMS[0][1], [(ITEMS[1][1], ITEMS[1][2][0])]), return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > enc["input_ids"].shape[1]

    # `dobae infer --run` defaults to the run's k (no context_k given)
    questions = tmp_path / "q.csv"
    with questions.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "질문"])
        w.writerow(["Q1", ITEMS[0][1]])
    summary = run_infer(res.run_dir, questions, tmp_path / "answers.csv", InferOptions(max_new_tokens=6))
    [rec] = [json.loads(line) for line in summary.details.read_text(encoding="utf-8").splitlines()]
    assert len(rec["parts"][0]["context"]) == 2
    # … and so does the llm answerer
    llm = LLMAnswerer(run_dir=str(res.run_dir), embedder=muse, max_new_tokens=6)
    from qa.pairs import Pair

    llm.fit([Pair(question=q, answer=a[0], group_id=g) for g, q, a in ITEMS])
    assert llm._pipe.context_k == 2
