"""The citation check's name test: which names of an LLM's sentence its source lacks."""

from __future__ import annotations

from retrieval.answer.names import names_missing

SOURCE = (
    "The United States warned Russia in March 2024 that concerts at Crocus City Hall were at"
    " risk, a Kremlin spokesperson said; Angelique Kerber's coach agreed."
)


def test_names_the_source_has_are_not_missing() -> None:
    assert names_missing("The US warned Russia about Crocus City Hall.", SOURCE) == []
    assert names_missing("Kerber agreed, the Kremlin said.", SOURCE) == []


def test_a_name_is_met_by_its_acronym_spelled_out_and_back() -> None:
    assert names_missing("The United States warned Moscow.", "The US warned Moscow.") == []
    assert names_missing("The US warned Moscow.", "The United States warned Moscow.") == []


def test_a_name_is_met_by_another_form_of_its_word_or_without_accents() -> None:
    assert names_missing("Aristotle was wrong.", "Aristotelian physics was wrong.") == []
    assert names_missing("Bolesław ruled.", "Boleslaw ruled.") == []


def test_a_name_the_source_lacks_is_missing() -> None:
    assert names_missing("The UN and Ukraine warned Russia.", SOURCE) == ["UN", "Ukraine"]
    assert names_missing("Galileo Galilei said so.", SOURCE) == ["Galileo Galilei"]


def test_a_sentence_s_first_common_word_is_not_a_name() -> None:
    assert names_missing("However, the concerts were at risk.", SOURCE) == []
