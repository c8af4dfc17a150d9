"""Date-aware questions: constraints read from the question, applied to a small dated corpus."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.index.embedding import Embedder
from retrieval.search.dated import event_date, order_hits
from retrieval.search.dates import DateConstraint, detect, mentioned_dates
from retrieval.types import Chunk, Hit

TODAY = date(2024, 6, 15)


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("What happened in March 2024 in Moscow?", date(2024, 3, 1), date(2024, 3, 31)),
        ("what happened in march 2024", date(2024, 3, 1), date(2024, 3, 31)),
        ("What happened on March 22, 2024?", date(2024, 3, 22), date(2024, 3, 22)),
        ("What was reported on 22 March 2024?", date(2024, 3, 22), date(2024, 3, 22)),
        ("What was reported on 2024-03-22?", date(2024, 3, 22), date(2024, 3, 22)),
        ("Who was arrested before 22 March 2024?", None, date(2024, 3, 21)),
        ("What did Naryshkin say after March 22?", date(2024, 3, 23), None),
        ("What has changed since March 2024?", date(2024, 3, 1), None),
        ("What did Putin say in 2023?", date(2023, 1, 1), date(2023, 12, 31)),
        ("What happened in May?", date(2024, 5, 1), date(2024, 5, 31)),
        ("What happened in July?", date(2023, 7, 1), date(2023, 7, 31)),  # last July
        ("Reports between March 1 and March 10?", date(2024, 3, 1), date(2024, 3, 10)),
        ("What happened between 1 and 15 March 2024?", date(2024, 3, 1), date(2024, 3, 15)),
        ("Reports of March 10-12, 2024", date(2024, 3, 10), date(2024, 3, 12)),
        ("News from 3 to 5 April 2024", date(2024, 4, 3), date(2024, 4, 5)),
        ("Reports from 2024-03-01 to 2024-04-15", date(2024, 3, 1), date(2024, 4, 15)),
        ("What happened last week?", date(2024, 6, 3), date(2024, 6, 9)),
        ("What happened last month?", date(2024, 5, 1), date(2024, 5, 31)),
        ("Any news in the past 3 days?", date(2024, 6, 12), date(2024, 6, 15)),
        ("What happened yesterday?", date(2024, 6, 14), date(2024, 6, 14)),
    ],
)
def test_a_stated_period_becomes_a_date_range(
    question: str, start: date | None, end: date | None
) -> None:
    found = detect(question, TODAY)
    assert found is not None
    assert (found.start, found.end) == (start, end)


@pytest.mark.parametrize(
    "question",
    [
        "Which NFL team represented the AFC at Super Bowl 50?",
        "Who may 3 people call for help?",  # "may" is not the month
        "How did the 2024 budget change?",  # a year that qualifies a noun, not a period
        "What is the capital of France?",
        "Why did the march on Washington happen?",
    ],
)
def test_questions_without_a_time_have_no_constraint(question: str) -> None:
    assert detect(question, TODAY) is None


def test_latest_and_earliest_ask_for_an_order() -> None:
    latest = detect("What is the latest news on Crocus City Hall?", TODAY)
    assert latest is not None and latest.order == "newest" and not latest.has_range
    recent = detect("What have officials said most recently?", TODAY)
    assert recent is not None and recent.order == "newest"
    earliest = detect("What was the earliest report about the attack?", TODAY)
    assert earliest is not None and earliest.order == "oldest"


def test_before_an_event_names_the_event_to_be_dated() -> None:
    found = detect("What did the US tell Russia before the attack?", TODAY)
    assert found is not None
    assert (found.event, found.relation) == ("the attack", "before")
    assert not found.has_range
    resolved = found.resolved(date(2024, 3, 22))
    assert resolved.end == date(2024, 3, 21) and resolved.start is None
    after = detect("After the attack on the concert hall, who did Moscow blame?", TODAY)
    assert after is not None
    assert (after.event, after.relation) == ("the attack on the concert hall", "after")
    assert after.resolved(date(2024, 3, 22)).start == date(2024, 3, 23)


def test_dates_stated_in_a_passage_take_the_publication_year() -> None:
    assert mentioned_dates("the attack on March 22 killed 140", date(2024, 4, 2)) == [
        date(2024, 3, 22)
    ]
    # a day-month after the publication date belongs to the year before
    assert mentioned_dates("On 28 December the army moved.", date(2024, 1, 5)) == [
        date(2023, 12, 28)
    ]
    assert mentioned_dates("Nothing dated here.", date(2024, 1, 5)) == []


def _hit(text: str, day: date | None, score: float, n: int = 0) -> Hit:
    chunk = Chunk(f"c{n}", f"d{n}", text, 0, len(text), 0, f"Title {n}", f"s{n}.txt", date=day)
    return Hit(chunk, score)


def test_event_date_prefers_the_sentence_about_the_event() -> None:
    hits = [
        _hit("Concerts were held on March 2 as usual. Tickets sold out.", date(2024, 3, 5), 1.0, 1),
        _hit(
            "Gunmen attacked the concert hall on March 22, killing 140 people.",
            date(2024, 3, 23),
            0.9,
            2,
        ),
    ]
    assert event_date("the attack on the concert hall", hits) == date(2024, 3, 22)
    # no stated date: the first report bounds the event
    undated = [_hit("The attack shocked the city.", date(2024, 3, 23), 1.0, 3)]
    assert event_date("the attack", undated) == date(2024, 3, 23)


def test_ordering_puts_the_newest_relevant_hit_first_and_keeps_weak_hits_behind() -> None:
    hits = [
        _hit("a", date(2024, 3, 1), 1.0, 1),
        _hit("b", date(2024, 5, 1), 0.9, 2),
        _hit("c", None, 0.8, 3),
        _hit("d", date(2024, 6, 1), 0.1, 4),  # newest, but barely relevant
    ]
    ordered = order_hits(hits, "newest")
    assert [h.chunk.id for h in ordered] == ["c2", "c1", "c3", "c4"]
    oldest = order_hits(hits, "oldest")
    assert [h.chunk.id for h in oldest][:2] == ["c1", "c2"]


def test_a_constraint_describes_itself() -> None:
    constraint = DateConstraint("in March 2024", date(2024, 3, 1), date(2024, 3, 31))
    assert constraint.describe() == "from 2024-03-01 to 2024-03-31"
    assert constraint.ordinal_range() == (
        date(2024, 3, 1).toordinal(),
        date(2024, 3, 31).toordinal(),
    )
    assert constraint.contains(date(2024, 3, 15)) and not constraint.contains(date(2024, 4, 1))


# -- a small dated news corpus, searched end to end ------------------------------------------

NEWS = {
    "2023-11-10-concert-season.txt": (
        "date 2023-11-10\n"
        "Crocus City Hall opens its winter concert season\n\n"
        "Crocus City Hall, the concert venue outside Moscow, opened its winter season with a"
        " sold-out rock concert. Organisers expect record attendance at the venue this year."
    ),
    "2024-03-08-embassy-warning.txt": (
        "date 2024-03-08\n"
        "US embassy warns of extremist plans to attack concerts in Moscow\n\n"
        "The United States embassy in Moscow warned on March 7 that extremists had imminent"
        " plans to target large gatherings in Moscow, including concerts. It advised"
        " Americans to avoid crowds over the next 48 hours."
    ),
    "2024-03-23-attack.txt": (
        "date 2024-03-23\n"
        "Gunmen attack Crocus City Hall\n\n"
        "Gunmen opened fire at Crocus City Hall on March 22, killing more than 140 people"
        " at a rock concert. The building was set on fire during the attack. Russian"
        " authorities detained four suspects the next day."
    ),
    "2024-05-15-investigation.txt": (
        "date 2024-05-15\n"
        "Crocus City Hall investigation: new arrests\n\n"
        "Investigators of the Crocus City Hall attack announced new arrests on Wednesday."
        " The investigation into the attack now counts twenty suspects in custody."
    ),
    "2024-01-20-farm-report.txt": (
        "date 2024-01-20\n"
        "Wheat harvest forecast\n\n"
        "Farmers expect a larger wheat harvest this year after a mild winter and good rains."
    ),
}


@pytest.fixture
def news(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> Archive:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in NEWS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    archive = Archive(make_settings(corpus_dir=corpus), embedder=embedder)
    report = archive.ingest()
    assert len(report.added) == len(NEWS)
    return archive


def test_latest_question_cites_the_newest_relevant_article_first(news: Archive) -> None:
    hits = news.search("What is the latest on the Crocus City Hall attack?")
    assert hits[0].chunk.date == date(2024, 5, 15)
    answer = news.ask("What is the latest on the Crocus City Hall attack?").answer
    assert not answer.refused
    assert answer.citations[0].date == date(2024, 5, 15)
    assert any("Newest" in note for note in answer.notes)


def test_a_month_in_the_question_limits_the_sources_to_that_month(news: Archive) -> None:
    hits = news.search("What happened at Crocus City Hall in March 2024?")
    assert hits
    assert all(h.chunk.date and (h.chunk.date.year, h.chunk.date.month) == (2024, 3) for h in hits)
    answer = news.ask("What happened at Crocus City Hall in March 2024?").answer
    assert not answer.refused
    assert all(c.date and c.date.month == 3 for c in answer.citations)
    assert any("2024-03-01 to 2024-03-31" in note for note in answer.notes)


def test_before_the_attack_finds_the_warning_dated_before_the_attack(news: Archive) -> None:
    question = "What did the US embassy warn about before the attack on Crocus City Hall?"
    hits = news.search(question)
    assert hits
    assert all(h.chunk.date and h.chunk.date < date(2024, 3, 22) for h in hits)
    answer = news.ask(question).answer
    assert not answer.refused
    assert answer.citations[0].date == date(2024, 3, 8)
    assert any("2024-03-22" in note for note in answer.notes)


def test_after_the_attack_excludes_earlier_articles(news: Archive) -> None:
    hits = news.search("Who was arrested after the attack on Crocus City Hall?")
    assert hits
    assert all(h.chunk.date and h.chunk.date > date(2024, 3, 22) for h in hits)


def test_a_period_with_no_dated_documents_falls_back_to_every_date(news: Archive) -> None:
    stages = news.search_stages("What happened at Crocus City Hall in 2019?")
    assert stages.final  # searched every date instead of returning nothing
    assert not stages.filtered
    assert any("Nothing is dated" in note for note in stages.notes)


def test_a_filtered_question_the_period_cannot_answer_is_refused_with_the_nearest_sources(
    news: Archive,
) -> None:
    # Only the January 2024 farm report is dated January; it says nothing about the attack,
    # and the March attack is not an answer about January: refused, the attack's report shown.
    answer = news.ask("How many people were killed at Crocus City Hall, in January 2024?").answer
    assert answer.refused
    assert any("140" in c.passage for c in answer.citations)
    assert any("Nothing dated" in note for note in answer.notes)
