"""Retrieved context for training prompts (`data.context_k > 0`).

The retriever is the one inference uses (`qa.retrieval.make_retriever`: the shared
retrieval answerer with its defaults) and the prompt is `qa/prompt.py`'s, so a model trained
with context sees at training time the same kind of context block it is served with.

No leakage: the retriever is fitted on the training split only, and no pair that shares a group
with the example is retrieved for it: not its own group (its paraphrases carry its answer), and,
for pairs built from several groups (an export's `source_groups`, e.g. a compound question), no
pair built from any of the example's groups. Validation examples retrieve from the training split
too (their groups are not in it).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from qa.pairs import Pair

CHUNK = 512  # questions per similarity pass (a chunk × corpus matrix of floats)


def pair_groups(pair) -> tuple[str, ...]:
    """Every group a pair was built from, its own first (`Pair.groups` when the export has them)."""
    return tuple(getattr(pair, "groups", ()) or (pair.group_id,))


def excluded_groups(corpus: Sequence[Pair], queries: Sequence[Pair]) -> list[set[str]]:
    """For each query pair, the corpus group ids that must not be retrieved for it: every corpus
    group holding a pair built from any of the query's groups, and the query's groups themselves."""
    by_source: dict[str, set[str]] = {}
    for p in corpus:
        for g in pair_groups(p):
            by_source.setdefault(g, set()).add(p.group_id)
    out = []
    for q in queries:
        groups = pair_groups(q)
        out.append(set(groups).union(*(by_source.get(g, set()) for g in groups)))
    return out


def retrieve_contexts(
    retriever, questions: Sequence[str], exclude: Sequence[Collection[str] | str | None], k: int
) -> list[list[tuple[str, str]]]:
    """The top-`k` (question, answer) pairs for each question, never from the group(s) `exclude[i]`."""
    out: list[list[tuple[str, str]]] = []
    for start in range(0, len(questions), CHUNK):
        found = retriever.retrieve_many(
            questions[start : start + CHUNK], k, exclude_groups=exclude[start : start + CHUNK]
        )
        out += [[(q, a) for q, a, _ in row] for row in found]
    return out


def embedder_spec(embedder) -> str | None:
    """A spec `qa.embedders.load_embedder` loads the same embedder from (recorded in the run card)."""
    name = getattr(embedder, "name", "") or ""
    if name.startswith("muse3"):
        return "muse3"
    if name.startswith("st:"):
        return name[3:].rsplit("-w", 1)[0]
    return None
