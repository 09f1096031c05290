"""Which sentences of a document chunk support a generated answer, for the card's highlighting.

The groundedness gate's lexical measure (`augment.gates`: the share of an answer sentence's
character bigrams found in the chunk), applied per chunk sentence: the chunk sentence that holds
the largest share of an answer sentence's bigrams supports it when the share reaches
`ground_lexical_min`. The gate's embedding fallback is not run here (no model in a web request).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Sentence:
    text: str
    supports: bool  # chunk sentence: supports an answer sentence; answer sentence: is supported


def support(answer: str, chunk: str, lexical_min: float) -> tuple[list[Sentence], list[Sentence]]:
    """(chunk sentences, answer sentences), each marked."""
    from augment.gates import bigrams, sentences

    chunk_sents = sentences(chunk) or [chunk]
    grams = [bigrams(s) for s in chunk_sents]
    used: set[int] = set()
    marked_answer = []
    for sent in sentences(answer):
        want = bigrams(sent)
        if not want:
            continue
        shares = [len(want & g) / len(want) for g in grams]
        best = max(range(len(shares)), key=shares.__getitem__)
        ok = shares[best] >= lexical_min
        if ok:
            used.add(best)
        marked_answer.append(Sentence(sent, ok))
    return [Sentence(s, i in used) for i, s in enumerate(chunk_sents)], marked_answer
