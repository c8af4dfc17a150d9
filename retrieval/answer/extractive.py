"""The default composer: it quotes the sentences of the retrieved passages that answer the
question, each followed by its `[n]`, and never writes a sentence of its own. Also the
refusal, which offers the nearest sources instead of an answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.answer.composer import AnswerStream
from retrieval.answer.evidence import Evidence, IdfFn, Sentence, scored_sentences
from retrieval.text import terms
from retrieval.types import Answer, Citation, Hit

REFUSAL_TEXT = "The archive has nothing that answers this question. The nearest sources are below."


class ExtractiveComposer:
    """Answers with the evidence's verbatim sentences, cited."""

    def compose(self, question: str, hits: Sequence[Hit], evidence: Evidence) -> AnswerStream:
        return AnswerStream.of(quote_answer(question, hits, evidence))


def quote_answer(question: str, hits: Sequence[Hit], evidence: Evidence) -> Answer:
    """Number the cited passages in order of first use and join the sentences with markers."""
    by_passage: dict[int, list[Sentence]] = {}
    for sentence in evidence.sentences:
        by_passage.setdefault(sentence.hit_rank, []).append(sentence)
    parts: list[str] = []
    citations: list[Citation] = []
    for n, (rank, sentences) in enumerate(by_passage.items(), start=1):
        ordered = sorted(sentences, key=lambda s: s.start)
        parts.extend(f"{s.text} [{n}]" for s in ordered)
        quote = " … ".join(s.text for s in ordered)
        citations.append(Citation.from_chunk(n, hits[rank].chunk, quote))
    return Answer(question, " ".join(parts), tuple(citations), evidence.confidence)


def refusal(
    question: str, hits: Sequence[Hit], evidence: Evidence, idf: IdfFn, nearest: int = 3
) -> Answer:
    """The refusal, with the nearest sources and their most relevant sentence."""
    question_terms = terms(question)
    citations = []
    for n, hit in enumerate(hits[:nearest], start=1):
        best = max(
            scored_sentences(question_terms, hit, 0, idf), key=lambda s: s.score, default=None
        )
        quote = best.text if best else hit.chunk.text[:300]
        citations.append(Citation.from_chunk(n, hit.chunk, quote))
    return Answer(question, REFUSAL_TEXT, tuple(citations), evidence.confidence, refused=True)
