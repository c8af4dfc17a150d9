"""Weighing the passages found for a question: which of their sentences answer it, and how
confidently. The archive decides refusal once, from this; both composers build on it.

A sentence answers only if it carries a candidate of the type the question asks for (a name
for "who", a date for "when", an amount for "how much" …) that the question does not already
contain, meets the question's constraints (years, quarters, dates, numbers, names), and is
not an echo (a headline, a question, boilerplate): `retrieval.answer.answerability`. Among
those, sentences are ranked by how much of the question they cover. Passages on the topic
without such a sentence are near misses: the question is refused, and the refusal says what
the archive has instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from retrieval.answer.answerability import (
    AnswerType,
    QuestionAnalysis,
    analyze,
    answer_span,
    context_of,
    fit,
)
from retrieval.text import sentence_spans, terms, weighted_overlap
from retrieval.types import Hit

# Answer types whose candidate is worth showing in bold: a name, a date, a number, an amount.
HIGHLIGHTED = frozenset(
    {
        AnswerType.PERSON,
        AnswerType.ORG,
        AnswerType.PLACE,
        AnswerType.DATE,
        AnswerType.NUMBER,
        AnswerType.AMOUNT,
    }
)

IdfFn = Callable[[str], float]


@dataclass(frozen=True)
class Sentence:
    """A sentence of one of the hits, scored as an answer to the question."""

    hit_rank: int  # which hit it comes from (0 = the best)
    start: int  # offsets into that hit's chunk text
    end: int
    text: str
    score: float
    answer: tuple[int, int] | None = None  # where the answer stands in `text`, to highlight
    answering: bool = False  # whether it carries an answer of the kind the question asks for


@dataclass(frozen=True)
class Evidence:
    """What the hits offer: the sentences that answer the question, best first (none: the
    question is refused), the confidence in the best passage, and the question as read."""

    confidence: float
    sentences: tuple[Sentence, ...] = ()
    analysis: QuestionAnalysis | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.sentences)


@dataclass(frozen=True)
class Weighing:
    """How evidence is weighed (see `weigh`)."""

    max_sentences: int = 3  # answering sentences kept, at most
    passages: int = 3  # top hits whose sentences are considered
    refusal_threshold: float = 0.4  # below this confidence nothing answers
    answer_bonus: float = 1.0  # added to the score of a sentence that carries an answer
    # A sentence carries an answer only if it (with its document's title) covers this share
    # of the question (IDF-weighted): "Revenue rose 16%." does not tell how many subscribers.
    min_cover: float = 0.25


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
    """The evidence the hits hold for the question: its answering sentences, best first."""
    score = confidence(question, hits, idf)
    analysis = analyze(question)
    if not hits or score < how.refusal_threshold:
        return Evidence(score, analysis=analysis)
    question_terms = terms(question)
    candidates = [
        s
        for rank, hit in enumerate(hits[: how.passages])
        for s in answering_sentences(analysis, question_terms, hit, rank, idf, how)
    ]
    candidates.sort(key=lambda s: -s.score)
    if not candidates or not candidates[0].answering:
        return Evidence(score, analysis=analysis)
    floor = 0.5 * candidates[0].score
    chosen = [s for s in candidates[: how.max_sentences] if s.score >= floor]
    return Evidence(score, tuple(chosen), analysis)


def answering_sentences(
    analysis: QuestionAnalysis,
    question_terms: Sequence[str],
    hit: Hit,
    rank: int,
    idf: IdfFn,
    how: Weighing,
) -> list[Sentence]:
    """The hit's sentences fit to stand in an answer, scored, those that carry an answer
    (with its place) raised by `how.answer_bonus`."""
    chunk = hit.chunk
    context = context_of(chunk.text, chunk.title, chunk.date)
    title_terms = set(terms(chunk.title))
    bonus = how.answer_bonus
    found = []
    for sentence in scored_sentences(question_terms, hit, rank, idf):
        if not fit(sentence.text, analysis, context):
            continue
        span = answer_span(sentence.text, analysis)
        covered = weighted_overlap(question_terms, title_terms | set(terms(sentence.text)), idf)
        if span is None or covered < how.min_cover:
            found.append(replace(sentence, answer=None, answering=False))
            continue
        place = (span.start, span.end) if analysis.answer_type in HIGHLIGHTED else None
        found.append(replace(sentence, score=sentence.score + bonus, answer=place, answering=True))
    return found


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
