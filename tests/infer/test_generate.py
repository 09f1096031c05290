"""Batched generation with a tiny run trained by the real trainer: batched == one at a time, left
padding, EOS, compound questions, retrieved context, candidates, and the `llm` answerer through
`dobae submit` / `dobae evaluate`."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from llm_helpers import tiny_base, trained_run  # noqa: F401 (fixtures)

from infer.backends import load_generator
from infer.generate import InferOptions, Pipeline
from qa.prompt import build_prompt


@pytest.fixture(scope="module")
def q(items):
    """Questions of the test rows: q[0] = row 0's first phrasing, q[3], q[5] (second), q[8] (second)."""
    return {
        0: items[0].questions[0],
        3: items[3].questions[0],
        5: items[5].questions[1],
        8: items[8].questions[1],
    }


@pytest.fixture(scope="module")
def gen(trained_run):  # noqa: F811
    g, card = load_generator(trained_run, "transformers")
    return g, card


def test_batched_greedy_equals_one_at_a_time_with_left_padding(gen, q):
    g, _ = gen
    prompts = [build_prompt(x) for x in (q[0], "짧은 질문", q[3] + " " + q[5], q[5], q[8])]
    lengths = {len(g.tokenizer(p)["input_ids"]) for p in prompts}
    assert len(lengths) >= 3  # really different lengths: padding matters
    side = g.tokenizer.padding_side
    batched = g.generate(prompts, n=1, max_new_tokens=24, batch_size=5)
    single = [g.generate([p], n=1, max_new_tokens=24, batch_size=1)[0] for p in prompts]
    assert batched == single
    assert g.tokenizer.padding_side == side  # restored after generating
    assert all(b[0] for b in batched)


def test_generation_stops_on_eos(gen, q, items):
    g, _ = gen
    before = g.stats.new_tokens
    [[answer]] = g.generate([build_prompt(q[0])], n=1, max_new_tokens=80, batch_size=1)
    used = g.stats.new_tokens - before
    assert answer in items[0].answers  # one of the trained answers, nothing after it
    assert used < 80  # stopped on EOS, not on the length limit
    assert "<|im_end|>" not in answer and "<|endoftext|>" not in answer


def test_repetition_penalty_reaches_generation(gen, q):
    """The option changes greedy output (HF applies it); 1.0 is exactly the default; < 1 is refused."""
    g, _ = gen
    prompts = [build_prompt("짧은 질문"), build_prompt(q[3] + " " + q[5])]
    plain = g.generate(prompts, n=1, max_new_tokens=40, batch_size=2)
    assert plain == g.generate(prompts, n=1, max_new_tokens=40, batch_size=2, repetition_penalty=1.0)
    assert g.generate(prompts, n=1, max_new_tokens=40, batch_size=2, repetition_penalty=1.8) != plain
    with pytest.raises(ValueError):
        InferOptions(repetition_penalty=0.5)


def test_candidates_greedy_first_then_samples(gen, q):
    g, _ = gen
    [cands] = g.generate([build_prompt(q[3])], n=4, max_new_tokens=20, batch_size=1, temperature=1.5, seed=1)
    [[greedy]] = g.generate([build_prompt(q[3])], n=1, max_new_tokens=20, batch_size=1)
    assert len(cands) == 4 and cands[0] == greedy
    assert len(set(cands[1:])) > 1  # sampled, seeded
    again = g.generate([build_prompt(q[3])], n=4, max_new_tokens=20, batch_size=1, temperature=1.5, seed=1)
    assert again == [cands]


class Recording:
    """The real generator, recording the prompts it was given."""

    def __init__(self, inner):
        self.inner, self.prompts, self.backend, self.stats = inner, [], inner.backend, inner.stats

    def generate(self, prompts, **kw):
        self.prompts.append(list(prompts))
        return self.inner.generate(prompts, **kw)


def test_compound_questions_are_split_answered_and_joined(gen, q):
    g, card = gen
    pipe = Pipeline(g, card, InferOptions(n=1, batch_size=4))
    single_a, single_b = pipe.answer([q[0], q[3]])
    [both] = pipe.answer([f"{q[0]} 또한, {q[3]}"])
    assert [p["part"] for p in both.parts] == [q[0], q[3]]
    assert both.answer == f"{single_a.answer} {single_b.answer}"
    [unsplit] = Pipeline(g, card, InferOptions(n=1, split=False)).answer([f"{q[0]} 또한, {q[3]}"])
    assert len(unsplit.parts) == 1


def test_retrieved_context_goes_into_the_shared_prompt(gen, muse, items):
    from infer.evaluation.cv import train_pairs
    from qa.retrieval import make_retriever

    g, card = gen
    retriever = make_retriever(train_pairs(items), muse)
    rec = Recording(g)
    pipe = Pipeline(rec, card, InferOptions(n=1, context_k=2), retriever=retriever, embedder=muse)
    question = "벽지에 곰팡이가 피는 원인이 뭔가요?"
    [a] = pipe.answer([question])
    context = [(cq, ans) for cq, ans, _ in retriever.retrieve(question, 2)]
    assert rec.prompts == [[build_prompt(question, context)]]
    assert "참고 자료" in rec.prompts[0][0] and a.parts[0]["context"] == [cq for cq, _ in context]
    assert context[0][0] in items[0].questions  # the 곰팡이 row is the nearest


def test_selection_picks_the_best_scored_candidate(gen, muse, items, q):
    from infer.evaluation.cv import train_pairs
    from qa.retrieval import make_retriever

    g, card = gen
    retriever = make_retriever(train_pairs(items), muse)
    opts = InferOptions(n=4, temperature=1.5, select="reference", select_k=3)
    [a] = Pipeline(g, card, opts, retriever=retriever, embedder=muse).answer([q[5]])
    part = a.parts[0]
    assert len(part["candidates"]) == 4 and len(part["scores"]) == 4
    assert part["chosen"] == int(np.argmax(part["scores"]))
    refs = [ans for _, ans, _ in retriever.retrieve(q[5], 3)]
    vecs = muse.encode(part["candidates"] + refs)
    centroid = vecs[4:].mean(axis=0)
    want = vecs[:4] @ (centroid / np.linalg.norm(centroid))
    np.testing.assert_allclose(part["scores"], np.round(want, 4), atol=2e-4)
    assert a.answer == part["candidates"][part["chosen"]]


def test_pool_adds_the_composer_candidates_and_selection_picks_from_all(gen, muse, items, q):
    from infer.evaluation.cv import train_pairs
    from infer.generate import make_composer
    from qa.retrieval import make_retriever

    g, card = gen
    pairs = train_pairs(items)
    composer = make_composer(pairs, muse)
    opts = InferOptions(n=2, temperature=1.5, select="reference", select_k=3, pool=True, pool_sentences=2)
    pipe = Pipeline(g, card, opts, retriever=make_retriever(pairs, muse), embedder=muse, composer=composer)
    [a] = pipe.answer([q[5]])
    part = a.parts[0]
    [trace] = composer.compose_parts([q[5]])
    pool = part["candidates"]
    assert trace.answer in pool and len(pool) == len(part["scores"]) >= 3
    assert set(pool[2:]) <= {trace.answer, *trace.top_sentences[:2]}
    assert part["chosen"] == int(np.argmax(part["scores"])) and a.answer == pool[part["chosen"]]
    assert part["chosen_from"] == (
        "llm" if part["chosen"] < 2 else "compose" if pool[part["chosen"]] == trace.answer else "sentence"
    )
    with pytest.raises(Exception, match="compose answerer"):
        Pipeline(g, card, opts, retriever=make_retriever(pairs, muse), embedder=muse)


def test_llm_answerer_through_submit_and_evaluate(db_url, train_csv, test_csv, trained_run, tmp_path, capsys):  # noqa: F811
    from db.dacon import import_dacon
    from dobae.cli import main
    from infer.submission import check_submission_file

    import_dacon(train_csv, url=db_url)
    out = tmp_path / "sub"
    main(
        [
            "submit",
            "--questions",
            str(test_csv),
            "--answerer",
            "llm",
            "--run",
            str(trained_run),
            "-o",
            "n=2",
            "-o",
            "select=reference",
            "-o",
            "max_new_tokens=40",
            "--out",
            str(out),
            "--embedder",
            "muse3",
        ]
    )
    assert "3 × 513" in capsys.readouterr().out
    ids = ["TEST_000", "TEST_001", "TEST_002"]
    vecs = check_submission_file(out / "submission.csv", ids)
    assert vecs.shape == (3, 512)
    answers = list(csv.DictReader((out / "answers.csv").open(encoding="utf-8")))
    assert [a["id"] for a in answers] == ids and all(a["answer"].strip() for a in answers)
    meta = json.loads((out / "submission.json").read_text(encoding="utf-8"))
    assert meta["answerer"] == "llm" and meta["config"]["n"] == 2 and meta["config"]["run"] == "trained"

    main(
        [
            "evaluate",
            "--answerer",
            "llm",
            "--run",
            str(trained_run),
            "--folds",
            "2",
            "-o",
            "max_new_tokens=30",
            "--embedder",
            "muse3",
            "--no-store",
        ]
    )
    captured = capsys.readouterr()
    assert "llm, 2-fold CV" in captured.out
    assert "training data" in captured.err  # the run trained on these rows: a leak warning, not silence


def test_llm_answerer_option_errors(trained_run):  # noqa: F811
    from foundation.errors import ConfigError
    from infer.answerer import make_answerer

    with pytest.raises(ConfigError, match="--run"):
        make_answerer("llm", n=2)
    with pytest.raises(ConfigError, match="bogus"):
        make_answerer("llm", run_dir=str(trained_run), bogus=1)
    with pytest.raises(ConfigError, match="select"):
        make_answerer("llm", run_dir=str(trained_run), select="length=1")
    with pytest.raises(ConfigError, match="run_card"):
        make_answerer("llm", run_dir=str(trained_run.parent))
