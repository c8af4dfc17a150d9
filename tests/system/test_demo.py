"""The demo article end to end: real model, real Chroma, cited verbatim answers."""

from __future__ import annotations

import re

import pytest

from retrieval.archive import Archive
from retrieval.errors import InvalidQuestion
from tests.conftest import CORPUS, CROCUS_QUESTION

ARTICLE = (CORPUS / "us-warned-russia-crocus-city-hall.txt").read_text(encoding="utf-8")


def test_crocus_question_is_answered_with_the_united_states_and_a_verbatim_citation(
    archive: Archive,
) -> None:
    answer = archive.ask(CROCUS_QUESTION).answer
    assert not answer.refused
    assert "United States" in answer.text
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.n for c in answer.citations}
    first = answer.citations[0]
    assert first.title.startswith("The United States warned Russia")
    assert first.source == "corpus/us-warned-russia-crocus-city-hall.txt"
    assert first.date is not None and first.date.isoformat() == "2024-04-02"
    assert first.location
    for citation in answer.citations:
        for piece in citation.quote.split(" … "):
            assert piece in citation.passage
            assert piece in ARTICLE
        assert citation.passage in ARTICLE


@pytest.mark.parametrize(
    "question",
    [
        "What happened at Crocus City Hall?",  # "happened" is not in the article
        "When did the US embassy warn about concerts?",
    ],
)
def test_plain_questions_about_the_one_article_are_answered(
    archive: Archive, question: str
) -> None:
    # In a one-article archive every term of the article is in every chunk; read naively, the
    # article's own words would weigh nothing and such questions would be refused.
    answer = archive.ask(question).answer
    assert not answer.refused
    assert "Crocus" in answer.text or "embassy" in answer.text


def test_every_answer_sentence_is_verbatim_from_the_corpus(archive: Archive) -> None:
    answer = archive.ask("What did Sergei Naryshkin tell reporters?").answer
    assert not answer.refused
    sentences = re.split(r"\s*\[\d+\]\s*", answer.text)
    for sentence in filter(None, sentences):
        assert sentence in ARTICLE


def test_a_question_the_archive_cannot_answer_is_refused_with_nearest_sources(
    archive: Archive,
) -> None:
    answer = archive.ask("What is the capital of France?").answer
    assert answer.refused
    assert "nothing" in answer.text
    assert answer.citations  # the nearest sources are still offered
    assert all(c.quote in c.passage for c in answer.citations)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "Please ask a question"),
        ("   \n\t ", "Please ask a question"),
        ("?!?! ...", "Please ask a question"),
        (("why is it so " * 800)[:9_999] + "?", "10,000 characters"),
    ],
)
def test_unfit_questions_get_a_clear_message(archive: Archive, question: str, message: str) -> None:
    with pytest.raises(InvalidQuestion, match=message):
        _ = archive.ask(question).answer


def test_sources_describe_the_archive(archive: Archive) -> None:
    stats = archive.stats()
    assert stats.documents == 1
    assert stats.chunks == 4
    assert stats.first_date is not None and stats.first_date.isoformat() == "2024-04-02"
    assert stats.newest[0].source == "corpus/us-warned-russia-crocus-city-hall.txt"
