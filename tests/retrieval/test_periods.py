"""The one hand-written check the reader keeps: a question that names a time is answered only
by a sentence about that time (its own dates first, then its passage, title and document date)."""

from __future__ import annotations

import datetime

import pytest

from retrieval.answer.periods import (
    asked_periods,
    asked_time,
    context_of,
    dates_hold,
    periods_about,
    speculates,
)

WIMBLEDON = "Who won the women's singles at Wimbledon in 2018?"
TESLA_Q1 = "What was Tesla's revenue in Q1 2021?"


def holds(question: str, sentence: str, context: str = "") -> bool:
    return dates_hold(sentence, asked_time(question), context or sentence)


def test_years_quarters_dates_and_months_are_read_from_the_question() -> None:
    asked = asked_time(TESLA_Q1)
    assert asked.years == (2021,) and asked.quarters == ((1, 2021),)
    dated = asked_time("What happened on March 5, 2021 at the 51st Super Bowl?")
    assert dated.dates == ((3, 5),) and dated.years == (2021,)
    assert asked_time("Who won the Tour de France in July?").months == (7,)
    assert not asked_time("Who may lead the party after the vote?")  # "may" is a verb here


@pytest.mark.parametrize(
    "question",
    [
        "What was Tesla's revenue in the first quarter of 2021?",
        "What was Tesla's revenue in Q1'21?",
        "What was Tesla's 1Q21 revenue?",
        "Tesla 2021 Q1 revenue",
    ],
)
def test_quarters_are_read_in_their_usual_spellings(question: str) -> None:
    assert asked_time(question).quarters == ((1, 2021),)


def test_a_question_without_a_time_holds_for_any_sentence() -> None:
    assert holds("Who warned Russia about the attack?", "In 2024 the US warned Russia.")


def test_a_sentence_about_another_year_fails_even_if_it_says_since_the_year() -> None:
    other = "In 2022, Elena Rybakina won Wimbledon, a title Kerber had held since 2018."
    assert not holds(WIMBLEDON, other)


def test_a_conflicting_year_in_the_sentence_overrides_the_passage() -> None:
    passage = (
        "Angelique Kerber won Wimbledon in 2018. "
        "Simona Halep won the women's singles at Wimbledon in 2019."
    )
    right, wrong = passage.split(". ")
    assert holds(WIMBLEDON, right, passage)
    assert not holds(WIMBLEDON, wrong, passage)


def test_a_year_stated_only_by_the_passage_or_document_date_holds() -> None:
    sentence = "Angelique Kerber beat Serena Williams 6-3, 6-3 to win the women's singles title."
    title = "Kerber stuns Serena at Wimbledon"
    assert holds(WIMBLEDON, sentence, context_of(sentence, title, "2018-07-14"))
    assert not holds(WIMBLEDON, sentence, context_of(sentence, title, "2022-07-09"))


def test_last_year_is_read_against_the_document_date() -> None:
    sentence = "Kerber, who won the women's singles at Wimbledon last year, lost in round two."
    assert holds(WIMBLEDON, sentence, context_of(sentence, date="2019-07-03"))
    assert not holds(WIMBLEDON, sentence, context_of(sentence, date="2020-07-03"))


def test_another_quarter_fails_and_a_comparison_does_not_conflict() -> None:
    assert not holds(TESLA_Q1, "Tesla reported revenue of $23.3 billion in Q1 2023.")
    assert holds(TESLA_Q1, "Tesla reported revenue of $10.4 billion in Q1 2021.")
    passage = (
        "Tesla reported first-quarter 2021 results on Monday. Revenue rose to $10.4 billion,"
        " up from $6 billion in Q1 2020."
    )
    assert holds(TESLA_Q1, passage.split("Monday. ")[1], passage)
    other = "Tesla Q2 2021 results: revenue rose to $12 billion."
    assert not holds(TESLA_Q1, other, f"{other} {passage}")


def test_full_dates_must_match() -> None:
    march = "Why did Tesla shares fall on March 5, 2021?"
    assert holds(march, "Tesla shares fell 3.8% on March 5, 2021.")
    assert not holds(march, "Tesla shares fell 5% on March 8, 2021.")


def test_a_year_after_until_is_what_the_sentence_is_about() -> None:
    """Unlike "since 2018" (see above): "until 1796, when it was annexed" dates the event."""
    until = "Warsaw stayed the capital until 1796, when it was annexed by the Kingdom of Prussia."
    assert holds("What kingdom annexed Warsaw in 1796?", until)


def test_a_sentence_dated_on_friday_is_about_its_document_s_month() -> None:
    question = "What did Germany's minimum wage rise to in October 2022?"
    sentence = "Germany's minimum wage rose to 10.45 euros an hour on Friday."
    july = context_of("A bigger rise is planned for October. " + sentence, "Wage", "2022-07-01")
    assert not holds(question, sentence, july)
    assert holds(question, sentence, context_of(sentence, "Wage", "2022-10-01"))
    # Friday was October 28
    assert holds(question, sentence, context_of(sentence, "Wage", "2022-11-02"))


def test_a_report_of_a_period_is_not_dated_by_the_day_it_was_published() -> None:
    saturday = "Elena Rybakina won the women's singles at Wimbledon on Saturday."
    passage = f"{saturday} She is the first Kazakh champion; Kerber won in 2018."
    assert not holds(WIMBLEDON, saturday, context_of(passage, "Wimbledon", "2022-07-09"))
    assert holds(WIMBLEDON, saturday, context_of(saturday, "Wimbledon", "2018-07-14"))
    revenue = "Tesla said on Wednesday that its annual revenue rose 71% to $53.8 billion."
    passage = f"Tesla reported its results for 2021. {revenue}"
    question = "What was Tesla's revenue in 2021?"
    assert holds(question, revenue, context_of(passage, "Tesla", "2022-01-26"))


def test_the_refusal_names_the_periods_asked_and_found() -> None:
    asked = asked_time(TESLA_Q1)
    assert asked_periods(asked) == ["Q1 2021"]
    published = datetime.date(2023, 4, 20)
    found = periods_about("Revenue was $23.3 billion in the first quarter.", "", published, asked)
    assert found == ["Q1 2023"]
    october = asked_time("What did the minimum wage rise to in October 2022?")
    assert asked_periods(october) == ["October 2022"]
    wage = "The minimum wage rose on Friday."
    assert periods_about(wage, "Wage", datetime.date(2022, 7, 1), october) == ["July 2022"]


@pytest.mark.parametrize(
    "preview",
    [
        "Kerber is tipped to win the women's singles at Wimbledon.",
        "Kerber will play Serena Williams in the final on Saturday.",
        "Kerber is among the favourites to win Wimbledon this year.",
    ],
)
def test_a_forecast_does_not_answer_what_happened(preview: str) -> None:
    assert speculates(preview, WIMBLEDON)
    assert not speculates(preview, "Who is expected to win Wimbledon?")  # asks for a forecast


def test_a_report_that_mentions_a_plan_still_answers() -> None:
    report = "Kerber won the women's singles at Wimbledon and will defend her title next year."
    assert not speculates(report, WIMBLEDON)
