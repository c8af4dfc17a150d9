"""Weighing the passages found for a question: which of their sentences answer it, and how
confidently. The archive decides refusal once, from this; both composers build on it.

The reader (`retrieval.answer.reader`, a cross-encoder trained here) reads the sentences of
the top passages, each behind its document's title and date, and gives the probability that
it answers the question and where the answer stands in it. A sentence answers if that
probability reaches the refusal threshold and it passes the checks the reader cannot make
(the dates a news question asks about, against the sentence and its document's date:
`retrieval.answer.periods`). The best such probability is the confidence; below the
threshold the question is refused. A sentence the reader would take but whose dates are
wrong is a near miss: the refusal says what the archive has instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from retrieval.answer.periods import AskedTime, asked_time, context_of, dates_hold, speculates
from retrieval.answer.reader import Reader
from retrieval.answer.reader_inputs import MAX_TITLE_WORDS, heading, reader_title
from retrieval.text import sentence_spans, terms, weighted_overlap
from retrieval.types import Chunk, Hit

IdfFn = Callable[[str], float]

MIN_SENTENCE_CHARS = 12


@dataclass(frozen=True)
class Sentence:
    """A sentence of one of the hits, as the reader scored it."""

    hit_rank: int  # which hit it comes from (0 = the best)
    start: int  # offsets into that hit's chunk text
    end: int
    text: str
    score: float  # the reader's probability that it answers the question
    answer: tuple[int, int] | None = None  # where the answer stands in `text`, to highlight
    answering: bool = False  # reaches the threshold and passes the checks


@dataclass(frozen=True)
class Evidence:
    """What the hits offer: the sentences that answer the question, best first (none: the
    question is refused), the confidence (the best answering probability), every sentence
    read, and the question as read."""

    confidence: float
    sentences: tuple[Sentence, ...] = ()
    asked: AskedTime | None = None  # the times the question names
    read: tuple[Sentence, ...] = ()  # every sentence read, best first
    near_misses: tuple[Sentence, ...] = ()  # would answer, but for the dates asked about

    @property
    def answerable(self) -> bool:
        return bool(self.sentences)

    def best_of(self, rank: int) -> Sentence | None:
        """The best-scored sentence of hit `rank` (None if none was read)."""
        return next((s for s in self.read if s.hit_rank == rank), None)


@dataclass(frozen=True)
class Weighing:
    """How evidence is weighed (see `weigh`)."""

    max_sentences: int = 3  # answering sentences kept, at most
    passages: int = 3  # top hits whose sentences are read
    refusal_threshold: float = 0.25  # the reader's probability needed to answer
    # A second or third sentence joins the answer only this close to the best one
    # (probability ratio): a sentence that merely mentions the topic is not added. 0.5 was
    # measured on the tuning halves: the first highlight is a gold answer 0.598 of the time
    # instead of 0.469, for 1.7 points of gold answer in the answer (SQuAD 2.0).
    keep_ratio: float = 0.5
    # At most this many sentences are read (0: all of them), those sharing most of the
    # question's rare words first: the reader's time grows with every sentence it reads.
    max_read: int = 8
    # Titles of more words are not shown to the reader (`reader_inputs.reader_title`).
    title_words: int = MAX_TITLE_WORDS
    # The rules kept because they add on held-out news questions (README, "The reader"): a
    # sentence must be about the times the question names (`periods.dates_hold`), and not a
    # forecast when the question asks what happened (`periods.speculates`).
    dates: bool = True
    forecasts: bool = True


def candidates(
    question: str, hits: Sequence[Hit], how: Weighing, idf: IdfFn | None = None
) -> list[Sentence]:
    """The sentences of the top hits (of MIN_SENTENCE_CHARS or more) worth reading: all of
    them, or the `how.max_read` that share most of the question's words (IDF-weighted; the
    better hit first on a tie)."""
    found = []
    for rank, hit in enumerate(hits[: how.passages]):
        text = hit.chunk.text
        for start, end in sentence_spans(text):
            if end - start >= MIN_SENTENCE_CHARS:
                found.append(Sentence(rank, start, end, text[start:end], 0.0))
    if not how.max_read or len(found) <= how.max_read:
        return found
    asked = terms(question)
    weight = idf or (lambda _: 1.0)

    def overlap(s: Sentence) -> float:
        return weighted_overlap(asked, set(terms(s.text)), weight) + 0.1 / (1 + s.hit_rank)

    chosen = sorted(found, key=overlap, reverse=True)[: how.max_read]
    return sorted(chosen, key=lambda s: (s.hit_rank, s.start))


def weigh(
    question: str, hits: Sequence[Hit], reader: Reader, how: Weighing, idf: IdfFn | None = None
) -> Evidence:
    """The evidence the hits hold for the question: its answering sentences, best first."""
    asked = asked_time(question) if how.dates else None
    sentences = candidates(question, hits, how, idf)
    readings = reader.read(
        question,
        [
            (heading(reader_title(chunk.title, how.title_words), chunk.date), s.text)
            for s in sentences
            for chunk in (hits[s.hit_rank].chunk,)
        ],
    )
    read, passing, near = [], [], []
    for sentence, reading in zip(sentences, readings, strict=True):
        chunk = hits[sentence.hit_rank].chunk
        passes = _fits(sentence.text, chunk, question, asked, how)
        reaches = reading.probability >= how.refusal_threshold
        scored = replace(
            sentence, score=reading.probability, answer=reading.span, answering=passes and reaches
        )
        read.append(scored)
        if passes:
            passing.append(scored)
        elif reaches:
            near.append(scored)
    read.sort(key=lambda s: -s.score)
    confidence = max((s.score for s in passing), default=0.0)
    answering = [s for s in read if s.answering]
    if not answering:
        return Evidence(confidence, (), asked, tuple(read), tuple(near))
    chosen = [s for s in answering if s.score >= how.keep_ratio * confidence]
    return Evidence(confidence, tuple(chosen[: how.max_sentences]), asked, tuple(read), tuple(near))


def _fits(text: str, chunk: Chunk, question: str, asked: AskedTime | None, how: Weighing) -> bool:
    """Whether a sentence passes the rules the reader does not make (see `Weighing`)."""
    if asked and not dates_hold(text, asked, context_of(chunk.text, chunk.title, chunk.date)):
        return False
    return not (how.forecasts and speculates(text, question))
