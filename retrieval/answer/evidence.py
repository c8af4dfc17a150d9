"""Weighing the passages found for a question: which of their sentences answer it, and how
confidently. The archive decides refusal once, from this; both composers build on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.text import sentence_spans, terms, weighted_overlap
from retrieval.types import Hit

IdfFn = Callable[[str], float]


@dataclass(frozen=True)
class Sentence:
    """A sentence of one of the hits, scored as an answer to the question."""

    hit_rank: int  # which hit it comes from (0 = the best)
    start: int  # offsets into that hit's chunk text
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class Evidence:
    """What the hits offer: the sentences that answer the question, best first (none: the
    question is refused), and the confidence in the best passage."""

    confidence: float
    sentences: tuple[Sentence, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.sentences)


@dataclass(frozen=True)
class Weighing:
    """How evidence is weighed (see `weigh`)."""

    max_sentences: int = 3  # answering sentences kept, at most
    passages: int = 3  # top hits whose sentences are considered
    refusal_threshold: float = 0.4  # below this confidence nothing answers


def coverage(question_terms: Sequence[str], text: str, idf: IdfFn) -> float:
    """IDF-weighted share of the question's terms that occur in text (0..1)."""
    return weighted_overlap(question_terms, set(terms(text)), idf)


def confidence(question: str, hits: Sequence[Hit], idf: IdfFn) -> float:
    """How well the best hit supports an answer: dense similarity and term coverage blended."""
    if not hits:
        return 0.0
    question_terms = terms(question)
    best = 0.0
    for hit in hits[:3]:
        similarity = hit.dense_similarity if hit.dense_similarity is not None else 0.0
        cover = coverage(question_terms, hit.chunk.indexed_text(), idf)
        best = max(best, 0.6 * max(similarity, 0.0) + 0.4 * cover)
    return round(min(best, 1.0), 4)


def weigh(question: str, hits: Sequence[Hit], idf: IdfFn, how: Weighing) -> Evidence:
    """The evidence the hits hold for the question."""
    score = confidence(question, hits, idf)
    if not hits or score < how.refusal_threshold:
        return Evidence(score)
    question_terms = terms(question)
    candidates = [
        s
        for rank, hit in enumerate(hits[: how.passages])
        for s in scored_sentences(question_terms, hit, rank, idf)
    ]
    candidates.sort(key=lambda s: -s.score)
    if not candidates or candidates[0].score <= 0:
        return Evidence(score)
    floor = 0.5 * candidates[0].score
    chosen = [s for s in candidates[: how.max_sentences] if s.score >= floor]
    return Evidence(score, tuple(chosen))


def scored_sentences(
    question_terms: Sequence[str], hit: Hit, rank: int, idf: IdfFn
) -> list[Sentence]:
    """The hit's sentences (of 12 characters or more), each scored as an answer."""
    text = hit.chunk.text
    # A question term in the title is context every sentence shares ("Tesla" in a passage
    # titled "Nikola Tesla", where the answer says "He was born in …"): it counts half.
    title = set(terms(hit.chunk.title))

    def weight(term: str) -> float:
        return idf(term) * (0.5 if term in title else 1.0)

    found = []
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        if len(sentence) < 12:
            continue
        cover = weighted_overlap(question_terms, set(terms(sentence)), weight)
        # Earlier passages are more trustworthy; a sentence with no shared term still
        # carries its passage's weight, so a semantic match is not discarded outright.
        score = cover + 0.3 / (1 + rank) + (0.05 if start == 0 else 0.0)
        found.append(Sentence(rank, start, end, sentence, score))
    return found
