"""The default composer: it quotes the sentences of the retrieved passages that answer the
question, each followed by its `[n]`, and never writes a sentence of its own. Also the
refusal, which offers the nearest sources instead of an answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.answer.composer import AnswerStream
from retrieval.answer.evidence import Evidence, Sentence
from retrieval.answer.periods import asked_periods, periods_about
from retrieval.types import Answer, Citation, Hit

REFUSAL_TEXT = "The archive has nothing that answers this question. The nearest sources are below."


class ExtractiveComposer:
    """Answers with the evidence's verbatim sentences, cited."""

    def compose(self, question: str, hits: Sequence[Hit], evidence: Evidence) -> AnswerStream:
        return AnswerStream.of(quote_answer(question, hits, evidence))


def quote_answer(question: str, hits: Sequence[Hit], evidence: Evidence) -> Answer:
    """Number the cited passages in order of first use and join the sentences with markers;
    the answer in each sentence is marked (offsets) in the text and in the quote."""
    by_passage: dict[int, list[Sentence]] = {}
    for sentence in evidence.sentences:
        by_passage.setdefault(sentence.hit_rank, []).append(sentence)
    text = _Marked()
    citations: list[Citation] = []
    for n, (rank, sentences) in enumerate(by_passage.items(), start=1):
        quote = _Marked()
        for s in sorted(sentences, key=lambda s: s.start):
            text.add(s.text, s.answer, sep=" ")
            text.add(f"[{n}]", None, sep=" ")
            quote.add(s.text, s.answer, sep=" … ")
        citations.append(
            Citation.from_chunk(n, hits[rank].chunk, quote.text, highlights=quote.marks)
        )
    return Answer(question, text.text, tuple(citations), evidence.confidence, highlights=text.marks)


class _Marked:
    """Text built piece by piece, with the offsets of the marked parts."""

    def __init__(self) -> None:
        self.text = ""
        self._marks: list[tuple[int, int]] = []

    @property
    def marks(self) -> tuple[tuple[int, int], ...]:
        return tuple(self._marks)

    def add(self, piece: str, mark: tuple[int, int] | None, sep: str) -> None:
        if self.text:
            self.text += sep
        if mark is not None:
            self._marks.append((len(self.text) + mark[0], len(self.text) + mark[1]))
        self.text += piece


def refusal(question: str, hits: Sequence[Hit], evidence: Evidence, nearest: int = 3) -> Answer:
    """The refusal, with the nearest sources and the sentence of each the reader rated best.
    When they are near misses (they would answer, for another time), it says what the archive
    has instead."""
    citations = []
    for n, hit in enumerate(hits[:nearest], start=1):
        best = evidence.best_of(n - 1)
        quote = best.text if best else hit.chunk.text[:300]
        citations.append(Citation.from_chunk(n, hit.chunk, quote))
    text = _near_miss_text(hits, evidence) or REFUSAL_TEXT
    return Answer(question, text, tuple(citations), evidence.confidence, refused=True)


def _near_miss_text(hits: Sequence[Hit], evidence: Evidence) -> str | None:
    """ "The archive has nothing that answers this for Q1 2021; its nearest sources are about
    Q1 2022 and Q1 2023" when the question names a time and sentences that would answer it are
    about other times."""
    if not evidence.asked or not evidence.near_misses:
        return None
    asked = asked_periods(evidence.asked)
    if not asked:
        return None
    found: list[str] = []
    for sentence in evidence.near_misses:
        chunk = hits[sentence.hit_rank].chunk
        about = periods_about(sentence.text, chunk.title, chunk.date, evidence.asked)
        found += [p for p in about if p not in asked and p not in found]
    if not found:
        return None
    have = _join(found[:4])
    return (
        f"The archive has nothing that answers this for {_join(asked)}; its nearest sources"
        f" are about {have}. They are below."
    )


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
