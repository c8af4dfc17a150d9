"""Answerability rules on invented news snippets: echoes, constraints, answer types, spans."""

from __future__ import annotations

import pytest

from retrieval.answer.answerability import (
    AnswerType,
    Span,
    analyze,
    answers,
    candidates,
    constraints_hold,
    context_of,
    contradicts,
    is_echo,
)

WIMBLEDON = "Who won the women's singles at Wimbledon in 2018?"
TESLA_Q1 = "What was Tesla's revenue in Q1 2021?"
SUPER_BOWL = "What is the location of the Super Bowl in 2022?"
TOUR = "Who won the 2019 Tour de France?"


def answer_text(sentence: str, question: str, context: str = "") -> str | None:
    """The words of the answer span, or None when the sentence does not answer."""
    span = answers(sentence, analyze(question), context or sentence)
    return None if span is None else span.text(sentence)


# --- analyze: answer types -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        (WIMBLEDON, AnswerType.PERSON),
        ("Whom did Kerber beat in the final?", AnswerType.PERSON),
        ("When did Kerber win Wimbledon?", AnswerType.DATE),
        ("What year did Apple release the first iPhone?", AnswerType.DATE),
        ("In what year was the company founded?", AnswerType.DATE),
        ("On what date did the merger close?", AnswerType.DATE),
        ("Where was the 2022 Super Bowl played?", AnswerType.PLACE),
        (SUPER_BOWL, AnswerType.PLACE),
        ("Super Bowl 2022 location", AnswerType.PLACE),
        ("What city hosted the 2016 Olympics?", AnswerType.PLACE),
        ("How many medals did Norway win at the 2018 Winter Olympics?", AnswerType.NUMBER),
        ("How old was Kerber when she won?", AnswerType.NUMBER),
        ("How much did Elon Musk pay for Twitter?", AnswerType.AMOUNT),
        (TESLA_Q1, AnswerType.AMOUNT),
        ("What was the price of Brent crude on Monday?", AnswerType.AMOUNT),
        ("What is the population of Lagos?", AnswerType.NUMBER),
        ("Which team won the 2019 Stanley Cup?", AnswerType.ORG),
        ("What company bought Twitter in 2022?", AnswerType.ORG),
        ("Which player scored the winning goal?", AnswerType.PERSON),
        ("What was the name of the CEO of Tesla?", AnswerType.PERSON),
        ("Did Tesla beat expectations in Q1 2021?", AnswerType.SUPPORT),
        ("Why did Tesla shares fall on March 5, 2021?", AnswerType.SUPPORT),
        ("How did the Fed respond to inflation?", AnswerType.SUPPORT),
        ("What did the report say about emissions?", AnswerType.THING),
    ],
)
def test_the_answer_type_follows_the_question_word_and_head_noun(
    question: str, kind: AnswerType
) -> None:
    assert analyze(question).answer_type is kind


def test_which_x_keeps_its_head_noun() -> None:
    assert analyze("Which team won the 2019 Stanley Cup?").head == "team"
    assert analyze("What city hosted the 2016 Olympics?").head == "city"
    assert analyze(TESLA_Q1).head == "revenue"


# --- analyze: constraints --------------------------------------------------------------------


def test_years_quarters_and_names_are_constraints() -> None:
    analysis = analyze(TESLA_Q1)
    assert analysis.years == (2021,)
    assert analysis.quarters == ((1, 2021),)
    assert analysis.names == ("Tesla",)


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
    assert analyze(question).quarters == ((1, 2021),)


def test_full_dates_months_numbers_ordinals_and_multiword_names() -> None:
    analysis = analyze("What happened on March 5, 2021 at the 51st Super Bowl in Boeing 737 news?")
    assert analysis.dates == ((3, 5),)
    assert analysis.years == (2021,)
    assert analysis.ordinals == (51,)
    assert analysis.numbers == ("737",)
    assert "Super Bowl" in analysis.names
    assert analyze("Who won the Tour de France in July?").months == (7,)
    assert analyze(TOUR).names == ("Tour de France",)


def test_the_question_word_and_may_as_a_verb_are_not_constraints() -> None:
    analysis = analyze("Who may lead the party after the vote?")
    assert analysis.months == ()
    assert analysis.names == ()


# --- failure 1: echoes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Tesla Q2 2020 revenue.",
        "2018 Winter Olympics - Medal Tracker.",
        "Wimbledon 2018: Women's Singles Results",
        "What is the location of the Super Bowl in 2022?",
        "Check out the medal count.",
        "Click here to subscribe to our newsletter.",
        "Subscribe for the latest news.",
        "Read more: Tesla's record quarter",
        "Sign up for our daily briefing.",
        "Follow us on Twitter for live updates.",
    ],
)
def test_headlines_list_titles_questions_and_plugs_are_echoes(sentence: str) -> None:
    assert is_echo(sentence, SUPER_BOWL)


def test_a_sentence_made_of_the_question_s_words_is_an_echo() -> None:
    assert is_echo("The 2018 Wimbledon women's singles.", WIMBLEDON)
    assert is_echo("Who won the women's singles at Wimbledon in 2018", WIMBLEDON)


@pytest.mark.parametrize(
    "sentence",
    [
        "Angelique Kerber won the 2018 Wimbledon women's singles title.",
        "Kerber wins Wimbledon",
        "Revenue: $10.4 billion.",
        "The game was played at SoFi Stadium in Inglewood, California.",
        "Egan Bernal won the 2019 Tour de France, the first Colombian to do so.",
    ],
)
def test_answering_sentences_are_not_echoes(sentence: str) -> None:
    assert not is_echo(sentence, WIMBLEDON)


def test_an_echo_loses_to_the_answering_sentence() -> None:
    analysis = analyze(SUPER_BOWL)
    echo = "What is the location of the Super Bowl in 2022?"
    answer = "Super Bowl LVI was held in 2022 at SoFi Stadium in Inglewood, California."
    assert answers(echo, analysis, echo) is None
    assert answer_text(answer, SUPER_BOWL) in ("SoFi Stadium", "Inglewood", "California")


# --- failure 2: constraints ------------------------------------------------------------------


def test_a_sentence_about_another_year_fails_even_if_it_says_since_the_year() -> None:
    analysis = analyze(WIMBLEDON)
    other = "In 2022, Elena Rybakina won Wimbledon, a title Kerber had held since 2018."
    assert not constraints_hold(analysis, other, other)
    assert answers(other, analysis, other) is None


def test_a_conflicting_year_in_the_sentence_overrides_the_passage() -> None:
    analysis = analyze(WIMBLEDON)
    passage = (
        "Angelique Kerber won Wimbledon in 2018. "
        "Simona Halep won the women's singles at Wimbledon in 2019."
    )
    right, wrong = passage.split(". ")
    assert constraints_hold(analysis, right, passage)
    assert not constraints_hold(analysis, wrong, passage)


def test_a_year_stated_only_by_the_passage_or_document_date_holds() -> None:
    analysis = analyze(WIMBLEDON)
    sentence = "Angelique Kerber beat Serena Williams 6-3, 6-3 to win the women's singles title."
    dated = context_of(
        passage=sentence, title="Kerber stuns Serena at Wimbledon", date="2018-07-14"
    )
    assert constraints_hold(analysis, sentence, dated)
    assert answer_text(sentence, WIMBLEDON, dated) == "Angelique Kerber"
    undated = context_of(
        passage=sentence, title="Kerber stuns Serena at Wimbledon", date="2022-07-09"
    )
    assert not constraints_hold(analysis, sentence, undated)


def test_last_year_is_read_against_the_document_date() -> None:
    analysis = analyze(WIMBLEDON)
    sentence = "Kerber, who won the women's singles at Wimbledon last year, lost in round two."
    assert constraints_hold(analysis, sentence, context_of(sentence, date="2019-07-03"))
    assert not constraints_hold(analysis, sentence, context_of(sentence, date="2020-07-03"))


def test_another_quarter_fails() -> None:
    analysis = analyze(TESLA_Q1)
    wrong = "Tesla reported revenue of $23.3 billion in Q1 2023, up 24% year over year."
    right = "Tesla reported revenue of $10.4 billion in Q1 2021, up 74% year over year."
    assert answers(wrong, analysis, wrong) is None
    assert answer_text(right, TESLA_Q1) == "$10.4 billion"


def test_a_quarter_stated_by_the_passage_holds_and_a_comparison_does_not_conflict() -> None:
    passage = (
        "Tesla reported first-quarter 2021 results on Monday. Revenue rose to $10.4 billion,"
        " up from $6 billion in Q1 2020."
    )
    sentence = "Revenue rose to $10.4 billion, up from $6 billion in Q1 2020."
    assert answer_text(sentence, TESLA_Q1, passage) == "$10.4 billion"
    other = "Tesla Q2 2021 results: revenue rose to $12 billion."
    assert answers(other, analyze(TESLA_Q1), other + " " + passage) is None


def test_the_2019_tour_is_not_answered_by_the_2021_tour() -> None:
    analysis = analyze(TOUR)
    passage = (
        "Tadej Pogacar won the 2021 Tour de France. Two years earlier, Egan Bernal won the"
        " 2019 Tour de France."
    )
    wrong, right = passage.split(". ")
    assert answers(wrong, analysis, passage) is None
    span = answers(right, analysis, passage)
    assert span is not None and span.text(right) == "Egan Bernal"


def test_a_name_the_context_lacks_fails() -> None:
    analysis = analyze(TOUR)
    giro = "Richard Carapaz won the 2019 Giro d'Italia."
    assert not constraints_hold(analysis, giro, context_of(giro, title="Giro 2019"))


def test_months_dates_and_ordinals_must_match() -> None:
    march = analyze("Why did Tesla shares fall on March 5, 2021?")
    assert constraints_hold(march, "Tesla shares fell 3.8% on March 5, 2021.", "")
    assert not constraints_hold(march, "Tesla shares fell 5% on March 8, 2021.", "")
    ordinal = analyze("What city hosted the 51st Super Bowl?")
    assert constraints_hold(ordinal, "Houston hosted Super Bowl LI.", "The 51st Super Bowl")
    assert not constraints_hold(ordinal, "Houston hosted Super Bowl LI.", "The 52nd Super Bowl")


# --- failure 3: answer types -----------------------------------------------------------------


def test_who_is_not_answered_by_the_question_s_own_names() -> None:
    question = "Who did Kerber beat in the 2018 Wimbledon final?"
    assert answer_text("Kerber won the 2018 Wimbledon final in straight sets.", question) is None
    assert (
        answer_text("In the 2018 Wimbledon final, Kerber beat Serena Williams.", question)
        == "Serena Williams"
    )


def test_who_is_answered_by_a_new_name_near_the_question_words() -> None:
    sentence = "Angelique Kerber won the 2018 Wimbledon women's singles title."
    assert answer_text(sentence, WIMBLEDON) == "Angelique Kerber"
    spans = candidates(sentence, analyze(WIMBLEDON))
    assert spans[0] == Span(0, len("Angelique Kerber"), "name")


def test_when_needs_a_date_and_how_much_an_amount() -> None:
    when = "When did Kerber win Wimbledon?"
    assert answer_text("Kerber won Wimbledon after beating Serena Williams.", when) is None
    assert answer_text("Kerber won Wimbledon on July 14, 2018.", when) == "July 14, 2018"
    how_much = "How much did Elon Musk pay for Twitter?"
    assert answer_text("Elon Musk paid a lot for Twitter, analysts said.", how_much) is None
    assert answer_text("Elon Musk paid $44 billion for Twitter.", how_much) == "$44 billion"


def test_how_many_needs_a_count_that_is_not_the_question_s_year() -> None:
    question = "How many medals did Norway win at the 2018 Winter Olympics?"
    assert answer_text("Norway dominated the 2018 Winter Olympics.", question) is None
    assert answer_text("Norway won 39 medals at the 2018 Winter Olympics.", question) == "39"
    assert answer_text("Norway won thirty-nine medals at the 2018 Winter Olympics.", question)


def test_where_prefers_a_name_after_a_place_preposition() -> None:
    question = "Where did Kerber win her first Grand Slam title?"
    sentence = "Kerber won her first Grand Slam title at the Australian Open in Melbourne."
    assert answer_text(sentence, question) in ("Australian Open", "Melbourne")
    assert answer_text("Kerber won her first Grand Slam title in style.", question) is None


def test_percentages_answer_amount_questions() -> None:
    question = "How much did Tesla's revenue grow in Q1 2021?"
    assert answer_text("Tesla's revenue grew 74% in Q1 2021.", question) == "74%"


def test_support_questions_are_answered_by_any_constrained_non_echo_sentence() -> None:
    question = "Did Tesla beat expectations in Q1 2021?"
    sentence = "Tesla beat analysts' expectations in Q1 2021 with record deliveries."
    assert answers(sentence, analyze(question), sentence) == Span(0, len(sentence), "support")
    assert answers("Tesla beat expectations in Q3 2022.", analyze(question), "") is None


# --- failure 4: refusing by answer, not topic ------------------------------------------------


def test_only_distractors_means_no_sentence_answers() -> None:
    distractors = [
        ("Wimbledon 2018: Women's Singles Draw", "Wimbledon 2018: Women's Singles Draw"),
        (
            "Novak Djokovic won the men's singles at Wimbledon in 2018.",
            "Wimbledon 2018. Novak Djokovic won the men's singles at Wimbledon in 2018.",
        ),
        (
            "Elena Rybakina won the women's singles at Wimbledon in 2022.",
            "Wimbledon champions. Elena Rybakina won the women's singles at Wimbledon in 2022.",
        ),
        ("Check out the full Wimbledon 2018 results.", "Wimbledon 2018 results."),
    ]
    analysis = analyze(WIMBLEDON)
    verdicts = [answers(s, analysis, c) for s, c in distractors]
    # Djokovic passes the rules (same year, a new name): the rules check type and
    # constraints, not "women's"; the others are refused.
    assert verdicts[0] is None and verdicts[2] is None and verdicts[3] is None


def test_only_distractors_for_revenue_and_location() -> None:
    revenue = analyze(TESLA_Q1)
    for sentence in (
        "Tesla Q1 2021 earnings preview.",
        "Tesla's revenue in Q1 2023 was $23.3 billion.",
        "Tesla will report Q1 2021 revenue after the bell on Monday.",
    ):
        assert answers(sentence, revenue, sentence) is None, sentence
    location = analyze(SUPER_BOWL)
    for sentence in (
        "Super Bowl 2022 location.",
        "The 2023 Super Bowl was played in Glendale, Arizona.",
        "The Super Bowl in 2022 drew 99 million viewers.",
    ):
        assert answers(sentence, location, sentence) is None, sentence


def test_a_name_matches_its_acronym_and_its_spelled_out_form() -> None:
    """ "US" in the question is met by "the United States" in the passage, and back."""
    asked_short = analyze("What did the US warn Russia about in March 2024?")
    asked_long = analyze("What did the United States warn Russia about in March 2024?")
    sentence = "The United States warned Russia in March 2024 that concerts were at risk."
    short_sentence = "The US warned Russia in March 2024 that concerts were at risk."
    assert constraints_hold(asked_short, sentence, "")
    assert constraints_hold(asked_long, short_sentence, "")
    assert not constraints_hold(analyze("What did the UN warn about?"), sentence, "")


# --- the question's main clause, and the same thing written another way ---------------------


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When Fox left as head coach of the Broncos, who replaced him?", AnswerType.PERSON),
        ("If the merger fails, which bank will buy the unit?", AnswerType.ORG),
        ("When rock buckles upwards it creates what?", AnswerType.THING),
        ("When did the Broncos replace Fox?", AnswerType.DATE),
        ("What is the name of the Pulitzer Prize novelist who studied there?", AnswerType.PERSON),
        ("What is almost identical across all nations?", AnswerType.THING),
        ("What is the prize money at Wimbledon?", AnswerType.AMOUNT),
        ("How much of the budget went to defence?", AnswerType.NUMBER),
        ("How much did the budget grow?", AnswerType.AMOUNT),
    ],
)
def test_the_main_clause_and_the_phrase_head_decide_the_type(
    question: str, kind: AnswerType
) -> None:
    assert analyze(question).answer_type is kind


def test_a_leading_when_clause_does_not_make_a_who_question_ask_for_a_date() -> None:
    question = "When John Fox left as head coach for the Broncos, who replaced him?"
    sentence = "The Broncos hired Gary Kubiak as head coach after John Fox left in January 2015."
    assert answer_text(sentence, question) == "Gary Kubiak"


def test_numbers_in_words_meet_numbers_in_digits() -> None:
    asked = analyze("Which conjecture says there are always 4 primes between the squares?")
    assert constraints_hold(asked, "Brocard's conjecture says there are four primes there.")
    assert not constraints_hold(asked, "Legendre's conjecture says there are two primes there.")


def test_a_name_is_met_by_another_form_of_the_same_word() -> None:
    asked = analyze("Whose work corrected Aristotle's physics?")
    sentence = "Aristotelian physics was not corrected until the work of Galileo Galilei."
    assert constraints_hold(asked, sentence)
    assert answer_text(sentence, asked.question) == "Galileo Galilei"  # not "Aristotelian"
    assert not constraints_hold(analyze("Whose work corrected Austria's laws?"), "Australia")


def test_a_year_after_until_is_what_the_sentence_is_about() -> None:
    """Unlike "since 2018" (see above): "until 1796, when it was annexed" dates the event."""
    question = "What kingdom annexed Warsaw in 1796?"
    until = "Warsaw stayed the capital until 1796, when it was annexed by the Kingdom of Prussia."
    assert answer_text(until, question) == "Kingdom of Prussia"


def test_only_a_negated_main_clause_asks_for_a_negative_answer() -> None:
    sentence = "Jamukha supported the traditional Mongolian aristocracy."
    assert not contradicts(sentence, "Who did Jamukha support that were not part of the base?")
    assert contradicts(sentence, "Who did Jamukha not support?")
    assert contradicts("Kerber won the final.", "Which player never won a final?")


def test_fractions_answer_how_much_of() -> None:
    question = "How much of the indulgence money went to Rome?"
    sentence = "Luther noted that one half was to go to the building of St Peter's in Rome."
    assert answer_text(sentence, question) == "one half"


# --- the event the question asks about -------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "reports", "does_not"),
    [
        (
            "Which team won the 2023 NBA Finals?",
            "The Denver Nuggets beat the Miami Heat 94-89 to claim the 2023 NBA title.",
            "The Miami Heat reached the 2023 NBA Finals after Game 7 in Boston.",
        ),
        (
            "Who was appointed head coach of the Mariners in 2023?",
            "The Mariners hired Luis Ferreira as head coach in 2023.",
            "The Mariners fired head coach Paul Hendry in 2023.",
        ),
        (
            "How much does the Apple Vision Pro cost?",
            "Apple unveiled the Vision Pro, priced at $3,499.",
            "Apple Vision Pro buyers can add AppleCare+ for $499.",
        ),
        (
            "Where did Taylor Swift begin the Eras Tour?",
            "Taylor Swift opened the Eras Tour at State Farm Stadium in Glendale, Arizona.",
            "Taylor Swift played the Eras Tour at Wembley Stadium in London.",
        ),
    ],
)
def test_a_sentence_must_report_the_event_the_question_asks_about(
    question: str, reports: str, does_not: str
) -> None:
    assert answer_text(reports, question) is not None
    assert answer_text(does_not, question) is None


def test_questions_without_a_news_event_are_not_held_to_one() -> None:
    question = "What is the population of Lagos?"
    assert not analyze(question).events
    assert answer_text("Lagos has about 15 million inhabitants.", question) == "15 million"


def test_a_sentence_dated_on_friday_is_about_its_document_s_month() -> None:
    question = "What did Germany's minimum wage rise to in October 2022?"
    sentence = "Germany's minimum wage rose to 10.45 euros an hour on Friday."
    july = context_of("A bigger rise is planned for October. " + sentence, "Wage", "2022-07-01")
    october = context_of(sentence, "Wage", "2022-10-01")
    early_november = context_of(sentence, "Wage", "2022-11-02")  # Friday was October 28
    assert answer_text(sentence, question, july) is None
    assert answer_text(sentence, question, october) == "10.45 euros"
    assert answer_text(sentence, question, early_november) == "10.45 euros"


def test_another_number_of_the_same_name_is_another_thing() -> None:
    question = "Which chip powers the Google Pixel 8?"
    nine = "Google launched the Pixel 9 with the Tensor G4 chip."
    eight = "Google launched the Pixel 8 with the Tensor G3 chip."
    assert answer_text(nine, question, context_of(nine + " It replaces the Pixel 8.")) is None
    assert answer_text(eight, question) == "Tensor G3"


def test_a_name_is_not_met_by_another_name_with_the_same_generic_word() -> None:
    asked = analyze("Who won the Booker Prize in 2020?")
    assert not constraints_hold(asked, "The World Food Programme won the 2020 Nobel Peace Prize.")
    assert constraints_hold(asked, "Douglas Stuart won the 2020 Booker for Shuggie Bain.")
    assert constraints_hold(analyze("Who won the Tour de France?"), "Pogacar won the Tour.")
    singles = "Angelique Kerber won the women's singles title at Wimbledon."
    assert contradicts(singles, "Who won the women's doubles at Wimbledon?")


def test_a_sentence_naming_someone_else_with_part_of_the_name_does_not_meet_it() -> None:
    asked = analyze("Who did play-by-play on Westwood One?")
    assert not constraints_hold(asked, "The Museum acquired 178 Vivienne Westwood costumes.")
    assert constraints_hold(asked, "Kevin Harlan called the game for Westwood One radio.")
    # accents and a one-letter slip in the question are the same name, not another
    assert constraints_hold(analyze("Who founded Boleslaw II of Masovia's town?"), "Bolesław II")
    assert constraints_hold(analyze("Who wrote The Mark of Anarchy?"), "The Mask of Anarchy")


@pytest.mark.parametrize(
    "preview",
    [
        "The 2019 Booker Prize shortlist, announced by judge Peter Florence, names six books.",
        "Peter Florence is tipped to win the 2019 Booker Prize.",
        "Margaret Atwood is set to win the 2019 Booker Prize, bookmakers said.",
        "Salman Rushdie is in contention for the 2019 Booker Prize.",
        "Peter Florence will present the 2019 Booker Prize on Monday.",
    ],
)
def test_a_preview_does_not_answer_a_question_about_what_happened(preview: str) -> None:
    assert answer_text(preview, "Who won the Booker Prize in 2019?") is None


def test_a_report_still_answers_though_it_mentions_what_was_expected() -> None:
    report = "Bernardine Evaristo won the 2019 Booker Prize, which Atwood had been expected to win."
    assert answer_text(report, "Who won the Booker Prize in 2019?") == "Bernardine Evaristo"


def test_a_sentence_dated_on_saturday_is_about_its_document_s_year() -> None:
    question = "Who won the women's singles at Wimbledon in 2018?"
    sentence = "Elena Rybakina won the women's singles at Wimbledon on Saturday."
    passage = f"{sentence} She is the first Kazakh champion; Kerber won in 2018."
    assert answer_text(sentence, question, context_of(passage, "Wimbledon", "2022-07-09")) is None
    assert answer_text(sentence, question, context_of(sentence, "Wimbledon", "2018-07-14"))
    # a report of a period's results names the period, not the day it was published
    revenue = "Tesla said on Wednesday that its annual revenue rose 71% to $53.8 billion."
    passage = f"Tesla reported its results for 2021. {revenue}"
    assert answer_text(
        revenue, "What was Tesla's revenue in 2021?", context_of(passage, "Tesla", "2022-01-26")
    )


def test_titles_from_earlier_wins_do_not_report_the_win_asked_about() -> None:
    question = "Who won the women's singles at Wimbledon in 2018?"
    draw = "The 2018 Wimbledon draw put defending champion Garbine Muguruza in the top half."
    assert answer_text(draw, question) is None
    seeded = "Seven-time champion Serena Williams was seeded 25th at Wimbledon in 2018."
    assert answer_text(seeded, question) is None
    assert answer_text("Kerber became the 2018 Wimbledon champion.", question) == "Kerber"


def test_how_many_highlights_the_number_of_what_it_counts() -> None:
    question = "How many people were killed at Crocus City Hall?"
    sentence = "Two weeks before the attack that caused 140 deaths, a warning came."
    context = context_of(sentence, "Attack on Crocus City Hall")
    assert answer_text(sentence, question, context) == "140"  # not "Two" (weeks)
    years = "The war lasted five years and cost 2 million lives."
    assert answer_text(years, "How many years did the war last?") == "five"


def test_a_nationality_before_a_noun_is_not_the_person_asked_for() -> None:
    question = "Who warned Russia about Crocus City Hall?"
    sentence = "German chancellor Olaf Scholz warned Russia about Crocus City Hall."
    assert answer_text(sentence, question) == "Olaf Scholz"
    assert answer_text("The Germans warned Russia about Crocus City Hall.", question) == "Germans"
