"""Weighing the evidence with the reader, and the extractive composer: which sentences it
quotes, how it cites and highlights them, when it refuses and what the refusal says."""

from __future__ import annotations

import re
from datetime import date

import pytest

from retrieval.answer.evidence import Weighing, candidates, weigh
from retrieval.answer.extractive import REFUSAL_TEXT, ExtractiveComposer, refusal
from retrieval.answer.reader import Reader
from retrieval.types import Answer, Chunk, Hit

pytestmark = pytest.mark.slow  # the real reader


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader()


def hit(n: int, text: str, title: str = "Nikola Tesla", published: str | None = None) -> Hit:
    day = date.fromisoformat(published) if published else None
    chunk = Chunk(f"c{n}", f"d{n}", text, 0, len(text), 0, title, f"corpus/t{n}.md", date=day)
    return Hit(chunk, score=1.0 - n / 10, dense_similarity=0.6)


def compose(reader: Reader, question: str, hits: list[Hit], **weighing: object) -> Answer:
    """What the archive does with the hits: weigh the evidence once, refuse or quote."""
    evidence = weigh(question, hits, reader, Weighing(**weighing))  # type: ignore[arg-type]
    if not evidence.answerable:
        return refusal(question, hits, evidence)
    return ExtractiveComposer().compose(question, hits, evidence).answer


TESLA = hit(
    0,
    "Tesla worked for Edison for a while. He was born in Smiljan in 1856. Later he"
    " became an American citizen.",
)
MOVE = hit(1, "In 1884 Tesla moved to New York City. He arrived with four cents in his pocket.")
OTHER = hit(2, "Alternating current won the war of the currents.", title="War of the currents")


def test_the_sentence_that_answers_is_quoted_verbatim_cited_and_its_answer_marked(
    reader: Reader,
) -> None:
    answer = compose(reader, "Where was Tesla born?", [TESLA, MOVE, OTHER])
    assert not answer.refused
    assert answer.text == "He was born in Smiljan in 1856. [1]"  # nothing that does not answer
    (start, end), *_ = answer.highlights
    assert answer.text[start:end] == "Smiljan"
    (citation,) = answer.citations
    assert citation.n == 1 and citation.chunk_id == "c0"
    assert citation.quote in citation.passage == TESLA.chunk.text
    assert citation.title == "Nikola Tesla" and citation.source == "corpus/t0.md"


def test_sentences_from_several_passages_are_numbered_in_order_of_use(reader: Reader) -> None:
    answer = compose(
        reader, "In what year did Tesla move to New York City?", [TESLA, MOVE], max_sentences=2
    )
    assert answer.text.startswith("In 1884 Tesla moved to New York City. [1]")
    assert answer.citations[0].chunk_id == "c1"
    for sentence in filter(None, re.split(r"\s*\[\d+\]\s*", answer.text)):
        assert any(sentence in c.passage for c in answer.citations)


def test_a_question_the_passages_do_not_answer_is_refused_with_the_nearest_sources(
    reader: Reader,
) -> None:
    answer = compose(reader, "When did Tesla die?", [TESLA, MOVE], refusal_threshold=0.5)
    assert answer.refused and answer.text == REFUSAL_TEXT
    assert answer.confidence < 0.5
    assert [c.chunk_id for c in answer.citations] == ["c0", "c1"]
    for citation in answer.citations:
        assert citation.quote in citation.passage
    empty = compose(reader, "Where was Tesla born?", [])
    assert empty.refused and empty.citations == () and empty.confidence == 0.0


def test_the_threshold_on_the_reader_s_probability_decides(reader: Reader) -> None:
    question = "Where was Tesla born?"
    confidence = weigh(question, [TESLA], reader, Weighing()).confidence
    assert 0.5 < confidence <= 1.0
    assert not compose(reader, question, [TESLA], refusal_threshold=confidence).refused
    assert compose(reader, question, [TESLA], refusal_threshold=confidence + 0.001).refused


def test_at_most_max_read_sentences_are_read_those_sharing_the_question_s_words(
    reader: Reader,
) -> None:
    question = "Where was Tesla born?"
    everything = candidates(question, [TESLA, MOVE, OTHER], Weighing())
    assert len(everything) == 6
    rare = {"born": 3.0}  # "born" is rarer in the archive than "tesla"
    (one,) = candidates(
        question, [TESLA, MOVE, OTHER], Weighing(max_read=1), lambda t: rare.get(t, 1.0)
    )
    assert one.text == "He was born in Smiljan in 1856."


def test_a_sentence_about_another_year_does_not_answer_and_the_refusal_says_so(
    reader: Reader,
) -> None:
    """The dates check: the reader cannot know a document's date; a rule checks the years,
    quarters and months a question asks about against the sentence and its document."""
    wage = [
        hit(
            0,
            "Germany's minimum wage rose to 10.45 euros an hour on Friday.",
            "Wage",
            "2022-07-01",
        ),
        hit(
            1,
            "Germany's minimum wage rose to 12.41 euros an hour, the first rise since 2022.",
            "Wage rises in January 2024",
            "2024-01-01",
        ),
    ]
    question = "What did Germany's minimum wage rise to in October 2022?"
    # (A low threshold: the reader takes both sentences; the rule turns them down.)
    answer = compose(reader, question, wage, refusal_threshold=0.2)
    assert answer.refused
    assert answer.text.startswith("The archive has nothing that answers this for October 2022;")
    assert "about July 2022 and January 2024." in answer.text
    assert not compose(reader, question, wage, refusal_threshold=0.2, dates=False).refused
    results = [
        hit(
            0,
            "Northwind posted a net profit of $40 million in the first quarter.",
            "Northwind results",
            "2023-04-20",
        ),
        hit(1, "Northwind's net profit was $55 million in Q3 2023.", "Northwind Q3", "2023-10-19"),
    ]
    answer = compose(
        reader, "What was Northwind's net profit in the second quarter of 2023?", results
    )
    assert "this for Q2 2023; its nearest sources are about Q1 2023 and Q3 2023." in answer.text
