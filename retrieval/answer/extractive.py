"""Composing answers from hits. The default composer is extractive: it quotes the sentences
of the retrieved passages that best answer the question, each followed by its `[n]`, and it
never writes a sentence of its own. When the evidence is weak it refuses and offers the
nearest sources instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from retrieval.text import sentence_spans, terms
from retrieval.types import Answer, Citation, Hit

REFUSAL_TEXT = "The archive has nothing that answers this question. The nearest sources are below."

IdfFn = Callable[[str], float]


class Composer(Protocol):
    """Turns a question and its hits into an Answer whose [n] markers resolve to citations."""

    def compose(self, question: str, hits: Sequence[Hit]) -> Answer: ...


@dataclass(frozen=True)
class _Sentence:
    hit_rank: int
    start: int
    end: int
    text: str
    score: float


def coverage(question_terms: Sequence[str], text: str, idf: IdfFn) -> float:
    """IDF-weighted share of the question's terms that occur in text (0..1)."""
    wanted = set(question_terms)
    if not wanted:
        return 0.0
    present = set(terms(text))
    total = sum(idf(t) for t in wanted)
    return sum(idf(t) for t in wanted & present) / total if total > 0 else 0.0


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


class ExtractiveComposer:
    """Answers with verbatim, cited sentences from the top passages."""

    def __init__(
        self,
        idf: IdfFn,
        max_sentences: int = 3,
        passages: int = 3,
        refusal_threshold: float = 0.4,
        nearest_sources: int = 3,
    ) -> None:
        self.idf = idf
        self.max_sentences = max_sentences
        self.passages = passages
        self.refusal_threshold = refusal_threshold
        self.nearest_sources = nearest_sources

    def compose(self, question: str, hits: Sequence[Hit]) -> Answer:
        score = confidence(question, hits, self.idf)
        if not hits or score < self.refusal_threshold:
            return self.refuse(question, hits, score)
        chosen = self._select(question, hits)
        if not chosen:
            return self.refuse(question, hits, score)
        return build_answer(question, hits, chosen, score)

    def refuse(self, question: str, hits: Sequence[Hit], score: float) -> Answer:
        """The refusal, with the nearest sources and their most relevant sentence."""
        question_terms = terms(question)
        citations = []
        for n, hit in enumerate(hits[: self.nearest_sources], start=1):
            best = max(
                self._sentences(question_terms, hit, 0),
                key=lambda s: s.score,
                default=None,
            )
            quote = best.text if best else hit.chunk.text[:300]
            citations.append(_citation(n, hit, quote))
        return Answer(question, REFUSAL_TEXT, tuple(citations), score, refused=True)

    def _select(self, question: str, hits: Sequence[Hit]) -> list[_Sentence]:
        question_terms = terms(question)
        candidates = [
            s
            for rank, hit in enumerate(hits[: self.passages])
            for s in self._sentences(question_terms, hit, rank)
        ]
        candidates.sort(key=lambda s: -s.score)
        if not candidates or candidates[0].score <= 0:
            return []
        floor = 0.5 * candidates[0].score
        return [s for s in candidates[: self.max_sentences] if s.score >= floor]

    def _sentences(self, question_terms: list[str], hit: Hit, rank: int) -> list[_Sentence]:
        text = hit.chunk.text
        # A question term in the title is context every sentence shares ("Tesla" in a passage
        # titled "Nikola Tesla", where the answer says "He was born in …"): it counts half.
        title = set(terms(hit.chunk.title))
        weights = {t: self.idf(t) * (0.5 if t in title else 1.0) for t in set(question_terms)}
        total = sum(weights.values())
        found = []
        for start, end in sentence_spans(text):
            sentence = text[start:end]
            if len(sentence) < 12:
                continue
            present = set(terms(sentence))
            cover = sum(w for t, w in weights.items() if t in present) / total if total else 0.0
            # Earlier passages are more trustworthy; a sentence with no shared term still
            # carries its passage's weight, so a semantic match is not discarded outright.
            score = cover + 0.3 / (1 + rank) + (0.05 if start == 0 else 0.0)
            found.append(_Sentence(rank, start, end, sentence, score))
        return found


def build_answer(
    question: str, hits: Sequence[Hit], chosen: list[_Sentence], score: float
) -> Answer:
    """Number the cited passages in order of first use and join the sentences with markers."""
    by_passage: dict[int, list[_Sentence]] = {}
    for sentence in chosen:
        by_passage.setdefault(sentence.hit_rank, []).append(sentence)
    numbers: dict[int, int] = {}
    parts: list[str] = []
    citations: list[Citation] = []
    for rank, sentences in by_passage.items():
        numbers[rank] = len(numbers) + 1
        ordered = sorted(sentences, key=lambda s: s.start)
        parts.extend(f"{s.text} [{numbers[rank]}]" for s in ordered)
        quote = " … ".join(s.text for s in ordered)
        citations.append(_citation(numbers[rank], hits[rank], quote))
    return Answer(question, " ".join(parts), tuple(citations), score)


def _citation(n: int, hit: Hit, quote: str) -> Citation:
    chunk = hit.chunk
    return Citation(
        n=n,
        chunk_id=chunk.id,
        title=chunk.title,
        source=chunk.source,
        quote=quote,
        passage=chunk.text,
        date=chunk.date,
        url=chunk.url,
        location=chunk.location,
    )
