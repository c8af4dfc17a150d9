"""The extractive composer: which sentences it quotes, how it cites them, when it refuses."""

from __future__ import annotations

import re

import pytest

from retrieval.answer.evidence import Weighing, confidence, coverage, weigh
from retrieval.answer.extractive import REFUSAL_TEXT, ExtractiveComposer, refusal
from retrieval.text import terms
from retrieval.types import Answer, Chunk, Hit

IDF = {"tesla": 3.0, "born": 2.0, "smiljan": 4.0, "move": 1.5, "new": 0.5, "york": 2.5}


def idf(term: str) -> float:
    return IDF.get(term, 1.0)


def hit(n: int, text: str, similarity: float | None = 0.6, title: str = "Nikola Tesla") -> Hit:
    chunk = Chunk(f"c{n}", f"d{n}", text, 0, len(text), 0, title, f"corpus/t{n}.txt")
    return Hit(chunk, score=1.0 - n / 10, dense_similarity=similarity)


def compose(question: str, hits: list[Hit], **weighing: float) -> Answer:
    """What the archive does with the hits: weigh the evidence once, refuse or quote."""
    evidence = weigh(question, hits, idf, Weighing(**weighing))  # type: ignore[arg-type]
    if not evidence.answerable:
        return refusal(question, hits, evidence, idf)
    return ExtractiveComposer().compose(question, hits, evidence).answer


TESLA = hit(
    0,
    "Tesla worked for Edison for a while. He was born in Smiljan in 1856. Later he"
    " became an American citizen.",
)
MOVE = hit(1, "In 1884 Tesla moved to New York City. He arrived with four cents in his pocket.")
OTHER = hit(2, "Alternating current won the war of the currents.", similarity=0.2)


def test_the_sentence_that_answers_is_quoted_verbatim_and_cited() -> None:
    answer = compose("Where was Tesla born?", [TESLA, MOVE, OTHER], max_sentences=1)
    assert not answer.refused
    assert answer.text == "He was born in Smiljan in 1856. [1]"
    (citation,) = answer.citations
    assert citation.n == 1 and citation.chunk_id == "c0"
    assert citation.quote in citation.passage == TESLA.chunk.text
    assert citation.title == "Nikola Tesla" and citation.source == "corpus/t0.txt"


def test_sentences_from_several_passages_are_numbered_in_order_of_use() -> None:
    answer = compose(
        "Where was Tesla born, and when did he move to New York?", [TESLA, MOVE], max_sentences=2
    )
    # The best sentence comes from the second passage, so that passage is [1].
    assert answer.text == (
        "In 1884 Tesla moved to New York City. [1] He was born in Smiljan in 1856. [2]"
    )
    assert [(c.n, c.chunk_id) for c in answer.citations] == [(1, "c1"), (2, "c0")]
    for sentence in filter(None, re.split(r"\s*\[\d+\]\s*", answer.text)):
        assert any(sentence in c.passage for c in answer.citations)


def test_weak_evidence_is_refused_with_the_nearest_sources() -> None:
    weak = [hit(0, "Pigeons can find their way home over long distances.", similarity=0.1)]
    answer = compose("Where was Tesla born?", weak, refusal_threshold=0.4)
    assert answer.refused and answer.text == REFUSAL_TEXT
    assert answer.confidence < 0.4
    assert [c.chunk_id for c in answer.citations] == ["c0"]
    assert answer.citations[0].quote in answer.citations[0].passage
    empty = compose("Where was Tesla born?", [], refusal_threshold=0.4)
    assert empty.refused and empty.citations == () and empty.confidence == 0.0


def test_the_threshold_decides_between_answering_and_refusing() -> None:
    question = "Where was Tesla born?"
    score = confidence(question, [TESLA], idf)
    assert not compose(question, [TESLA], refusal_threshold=score).refused
    assert compose(question, [TESLA], refusal_threshold=score + 0.01).refused


def test_confidence_grows_with_shared_rare_terms_and_similarity() -> None:
    question = "Where was Tesla born?"
    strong = confidence(question, [TESLA], idf)
    unrelated = confidence(question, [OTHER], idf)
    assert strong > unrelated
    dissimilar = hit(0, TESLA.chunk.text, similarity=0.1)
    assert confidence(question, [dissimilar], idf) < strong
    assert confidence(question, [], idf) == 0.0


def test_coverage_weights_question_terms_by_idf() -> None:
    question = terms("Was Tesla born in Smiljan?")
    assert coverage(question, "Smiljan is a village.", idf) == pytest.approx(4 / 9)
    assert coverage(question, "Tesla was born in Smiljan.", idf) == pytest.approx(1.0)
    assert coverage([], "anything", idf) == 0.0


def news(n: int, text: str, title: str, published: str) -> Hit:
    from datetime import date

    chunk = Chunk(
        f"n{n}",
        f"news{n}",
        text,
        0,
        len(text),
        0,
        title,
        f"corpus/n{n}.md",
        date=date.fromisoformat(published),
    )
    return Hit(chunk, score=1.0 - n / 10, dense_similarity=0.8)


def test_a_refusal_says_which_periods_the_archive_has_instead() -> None:
    """Periods come from what each near miss is about: its own quarter or month, its
    document's date for "on Friday" news, never a year it mentions after "since"."""
    wage = [
        news(
            0, "Germany's minimum wage rose to 10.45 euros an hour on Friday.", "Wage", "2022-07-01"
        ),
        news(
            1,
            "Germany's minimum wage rose to 12.41 euros an hour, the first rise since 2022.",
            "Wage rises in January 2024",
            "2024-01-01",
        ),
    ]
    answer = compose("What did Germany's minimum wage rise to in October 2022?", wage)
    assert answer.refused
    assert answer.text.startswith("The archive has nothing that answers this for October 2022;")
    assert "about July 2022 and January 2024." in answer.text
    results = [
        news(
            0,
            "Northwind posted a net profit of $40 million in the first quarter.",
            "Northwind results",
            "2023-04-20",
        ),
        news(1, "Northwind's net profit was $55 million in Q3 2023.", "Northwind Q3", "2023-10-19"),
    ]
    answer = compose("What was Northwind's net profit in the second quarter of 2023?", results)
    assert "this for Q2 2023; its nearest sources are about Q1 2023 and Q3 2023." in answer.text
