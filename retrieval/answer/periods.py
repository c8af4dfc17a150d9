"""When a question names a time: does a sentence speak of that time?

The reader (a cross-encoder, `retrieval.answer.reader`) judges whether a sentence answers a
question; it reads the sentence behind its document's title and date but cannot do calendar
arithmetic. A news archive holds the same event for many years, quarters and seasons
("Tesla's revenue in Q2 2023" beside Q2 2022's), so this one rule stays, kept because an
ablation on held-out news questions shows it adds (README, "The reader"):

- `asked_time` reads the years, quarters, full dates and months a question names.
- `dates_hold` checks them against the sentence or its context (passage, title, document
  date; see `context_of`). A year or quarter the sentence itself states overrides the
  context: a sentence about 2022 does not answer a question about 2018 because its passage
  mentions 2018. Years after "since", "from", "compared with" and the like are not what the
  sentence is about ("since 2018" in a sentence about 2022). A sentence dated only "on Friday"
  or "yesterday" is dated by its document; "last year" counts from the document's date.
- `speculates`: a question about what happened ("Who won …?") is not answered by a sentence
  about what is expected ("… is tipped to win"), kept for the same reason.
- `asked_periods` and `periods_about` put the times in words for the refusal ("nothing for
  Q1 2021; its nearest sources are about Q1 2022").
"""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from retrieval.text import MONTHS


@dataclass(frozen=True)
class AskedTime:
    """The years, quarters, dates and months a question names."""

    question: str
    years: tuple[int, ...] = ()
    quarters: tuple[tuple[int, int | None], ...] = ()  # (quarter, year or None)
    dates: tuple[tuple[int, int], ...] = ()  # (month, day); a year is also in `years`
    months: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.years or self.quarters or self.dates or self.months)


def asked_time(question: str) -> AskedTime:
    """The times the question names."""
    quarters = _quarters(question)
    years = _years(question) | {y for _, y in quarters if y is not None}
    full_dates = _full_dates(question)
    years |= {y for _, _, y in full_dates if y is not None}
    months = {m for m, _ in _months(question)} - {m for m, _, _ in full_dates}
    return AskedTime(
        question=question,
        years=tuple(sorted(years)),
        quarters=tuple(sorted(quarters, key=lambda q: (q[0], q[1] or 0))),
        dates=tuple(sorted({(m, d) for m, d, _ in full_dates})),
        months=tuple(sorted(months)),
    )


_ORDINAL_WORDS = {
    w: n
    for n, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
        " thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
        " twentieth".split(),
        start=1,
    )
}


_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)


_YEAR = r"(?:1[0-9]{3}|20[0-9]{2})"


_TOKEN = re.compile(r"[^\W_]+(?:(?:[-.&]|['’](?=[A-Z]))[^\W_]+)*")


_YEAR_RE = re.compile(rf"(?<![\w$€£.,-]){_YEAR}(?![\w%]|[.,]\d)")


_FISCAL_YEAR_RE = re.compile(r"\b(?:FY|fiscal(?: year)?\s*)'?(\d{2}|\d{4})\b", re.I)


_QUARTER_RE = re.compile(
    rf"\b(?:Q([1-4])|([1-4])Q)(?:\s*(?:FY\s*|fiscal\s*)?(?:'|’)?({_YEAR}|\d{{2}})\b)?"
    rf"|\b(first|second|third|fourth|1st|2nd|3rd|4th)[\s-]quarter"
    rf"(?:\s+(?:of\s+)?(?:(?:the\s+)?(?:fiscal\s+)?(?:year\s+)?)?({_YEAR}))?",
    re.I,
)


_YEAR_QUARTER_RE = re.compile(rf"\b({_YEAR})\s*(?:Q([1-4])|(first|second|third|fourth)\s+quarter)")


_FULL_DATE_RE = re.compile(
    rf"\b(?P<m1>{_MONTH})\s+(?P<d1>[0-3]?\d)(?:st|nd|rd|th)?\b(?:,?\s*(?P<y1>{_YEAR})\b)?"
    rf"|\b(?P<d2>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_MONTH})(?:,?\s*(?P<y2>{_YEAR})\b)?"
    rf"|\b(?P<y3>{_YEAR})-(?P<m3>[01]\d)-(?P<d3>[0-3]\d)\b",
    re.I,
)


_DIGIT_RE = re.compile(r"\d")


_ISO_DATE_RE = re.compile(r"\b(\d{4})-\d{2}-\d{2}\b")


_RELATIVE_YEAR_RE = re.compile(r"\b(last|this|next) year\b|\ba year (?:ago|earlier)\b", re.I)


_NOT_ABOUT_RE = re.compile(
    r"\b(?:since|from|before|after|prior to|compared (?:with|to)|versus|vs"
    r"|than|a year earlier|year-earlier|year-ago|between|as far back as)\b",
    re.I,
)


_NOT_ABOUT_TAIL_RE = re.compile(r"(?:[^\S\n]+(?:\d[\d,.]*\d|[\w$€£%'’-]+)){1,6}")


def _years(text: str) -> set[int]:
    """The years a text mentions, fiscal years included."""
    found = {int(m.group()) for m in _YEAR_RE.finditer(text)}
    for match in _FISCAL_YEAR_RE.finditer(text):
        found.add(_full_year(match.group(1)))
    return found


def _full_year(digits: str) -> int:
    """A year from two or four digits ("21" → 2021)."""
    value = int(digits)
    return value if value >= 100 else 2000 + value if value < 70 else 1900 + value


def _quarters(text: str) -> set[tuple[int, int | None]]:
    """The quarters a text names, with their years when given."""
    return {quarter for _, quarter in _quarter_mentions(text)}


def _quarter_mentions(text: str) -> list[tuple[int, tuple[int, int | None]]]:
    """(offset, (quarter, year or None)) for each quarter the text names."""
    found: list[tuple[int, tuple[int, int | None]]] = []
    for match in _QUARTER_RE.finditer(text):
        number, number_after, year, word, word_year = match.groups()
        if number or number_after:
            quarter = int(number or number_after)
            found.append((match.start(), (quarter, _full_year(year) if year else None)))
        else:
            quarter = _ORDINAL_WORDS.get(word.lower()) or int(word[0])
            found.append((match.start(), (quarter, int(word_year) if word_year else None)))
    for match in _YEAR_QUARTER_RE.finditer(text):
        year_text, number, word = match.groups()
        quarter = int(number) if number else _ORDINAL_WORDS[word.lower()]
        found = [(o, q) for o, q in found if not (q == (quarter, None) and o > match.start())]
        found.append((match.start(), (quarter, int(year_text))))
    return found


def _full_dates(text: str) -> list[tuple[int, int, int | None]]:
    """(month, day, year or None) for each full date in the text."""
    found: list[tuple[int, int, int | None]] = []
    for match in _FULL_DATE_RE.finditer(text):
        groups = match.groupdict()
        if groups["m3"]:
            month, day, year = int(groups["m3"]), int(groups["d3"]), int(groups["y3"])
            found.append((month, day, year))
            continue
        month_text = (groups["m1"] or groups["m2"]).lower().rstrip(".")
        day = int(groups["d1"] or groups["d2"])
        year_text = groups["y1"] or groups["y2"]
        if (
            month_text == "may"
            and not (year_text or groups["m2"])
            and not match.group()[0].isupper()
        ):
            continue
        if 1 <= day <= 31 and month_text in MONTHS:
            found.append((MONTHS[month_text], day, int(year_text) if year_text else None))
    return found


def _months(text: str) -> list[tuple[int, int]]:
    """(month, offset) for each month name; "may" and short forms only when capitalised."""
    found = []
    for start, end, word in _tokens(text):
        lower = word.lower()
        if lower not in MONTHS or not word[0].isupper():
            continue
        if lower in ("may", "mar", "jan", "dec") and not _dated_context(text, start, end):
            continue
        found.append((MONTHS[lower], start))
    return found


def _dated_context(text: str, start: int, end: int) -> bool:
    """Whether an ambiguous month word ("May") stands next to a day, a year or "in"/"of"."""
    before = text[max(0, start - 4) : start].lower()
    after = text[end : end + 6]
    return bool(re.match(r"\.?\s*\d", after)) or before.endswith(("in ", "of ", "late ", "mid "))


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[tuple[int, int, str], ...]:
    """The text's word tokens as (start, end, word)."""
    return tuple((m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text))


Quarter = tuple[int, int | None]


@dataclass(frozen=True)
class _Time:
    """The years, quarters, dates and months a text states; "anchor" ones are what it is about.

    A mention is not an anchor when it follows "since", "from", "compared with" and the like.
    """

    anchor_years: frozenset[int]
    all_years: frozenset[int]
    anchor_quarters: frozenset[Quarter]
    all_quarters: frozenset[Quarter]
    dates: frozenset[tuple[int, int]]
    months: frozenset[int]
    anchor_months: frozenset[int]


_NO_TIME = _Time(*(frozenset[Any]() for _ in range(7)))


@lru_cache(maxsize=4096)
def _time(text: str) -> _Time:
    """What a text says about time (fast when it has no digit and no month)."""
    has_digit = _DIGIT_RE.search(text) is not None
    months = _months(text)
    if not has_digit and not months and "quarter" not in text.lower():
        return _NO_TIME
    not_about = _not_about_spans(text)
    years = [(m.start(), int(m.group())) for m in _YEAR_RE.finditer(text)] if has_digit else []
    quarters = _quarter_mentions(text)
    dates = _dated_matches(text) if has_digit else []
    return _Time(
        anchor_years=frozenset(y for o, y in years if not _inside(o, not_about)),
        all_years=frozenset(y for _, y in years) | (_years(text) if has_digit else set()),
        anchor_quarters=frozenset(q for o, q in quarters if not _inside(o, not_about)),
        all_quarters=frozenset(q for _, q in quarters),
        dates=frozenset(d for _, d in dates),
        months=frozenset(m for m, _ in months) | frozenset(m for _, (m, _) in dates),
        anchor_months=frozenset(m for m, o in months if not _inside(o, not_about)),
    )


def _dated_matches(text: str) -> list[tuple[int, tuple[int, int]]]:
    """(offset, (month, day)) for each full date in the text."""
    found = []
    for match in _FULL_DATE_RE.finditer(text):
        for month, day, _ in _full_dates(match.group()):
            found.append((match.start(), (month, day)))
    return found


def _not_about_spans(text: str) -> list[tuple[int, int]]:
    """The stretches after "since", "from", "compared with" …: up to six words each."""
    spans = []
    for match in _NOT_ABOUT_RE.finditer(text):
        tail = _NOT_ABOUT_TAIL_RE.match(text, match.end())
        spans.append((match.start(), tail.end() if tail else match.end()))
    return spans


def _inside(offset: int, spans: list[tuple[int, int]]) -> bool:
    """Whether offset falls inside one of the spans."""
    return any(a <= offset < b for a, b in spans)


def dates_hold(sentence: str, asked: AskedTime, context: str = "") -> bool:
    """Whether the years, quarters, dates and months the question asks about are those of
    the sentence or its context.

    `context` is the passage, its title and the document's date (see `context_of`). A year,
    quarter, date or month the sentence itself states overrides the context.
    """
    if not asked:
        return True
    mine, around = _time(sentence), _time(context)
    if _dated_by_publication(asked, sentence, mine):
        mine = _published(sentence, context) or mine
    relative = _relative_years(sentence, context)
    in_question = _time(asked.question)
    return (
        all(_year_holds(y, in_question, mine, around, relative) for y in asked.years)
        and all(_quarter_holds(q, mine, around) for q in asked.quarters)
        and all(_date_holds(d, mine, around) for d in asked.dates)
        and all(_month_holds(m, mine, around) for m in asked.months)
    )


_PUBLICATION_DAY_RE = re.compile(
    r"\b(?:on\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
    r"|yesterday|today|tonight|this\s+week|last\s+week)\b"
)


def _dated_by_publication(asked: AskedTime, sentence: str, mine: _Time) -> bool:
    """Whether the document's date dates the sentence: it states no year, month or date of
    its own, and the question asks for a month, or for a year but not for a period's results
    (a January report of "annual revenue" is about the year before)."""
    if mine.anchor_years or mine.anchor_months or mine.dates:
        return False
    if asked.months:
        return True
    return bool(asked.years) and not asked.quarters and not _PERIOD_RE.search(sentence)


_PERIOD_RE = re.compile(
    r"\b(?:quarter|quarterly|annual|annually|full[\s-]year|fiscal|year|years|season|half)\b",
    re.I,
)


def _published(sentence: str, context: str) -> _Time | None:
    """A news sentence dated only "on Friday" or "yesterday" is about the days before its
    document's date: those months and years (None when it says no such thing)."""
    dated = _ISO_DATE_RE.search(context)
    if not dated or not _PUBLICATION_DAY_RE.search(sentence):
        return None
    try:
        day = datetime.date.fromisoformat(dated.group())
    except ValueError:
        return None
    week_before = day - datetime.timedelta(days=7)
    years = frozenset({day.year, week_before.year})
    months = frozenset({day.month, week_before.month})
    empty: frozenset[Any] = frozenset()
    return _Time(years, years, empty, empty, empty, months, months)


def context_of(passage: str = "", title: str = "", date: object = None) -> str:
    """The context string `constraints_hold` and `answers` expect: title, date and passage."""
    return "\n".join(part for part in (title, "" if date is None else str(date), passage) if part)


def _relative_years(sentence: str, context: str) -> frozenset[int]:
    """Years that "last year", "this year", "a year ago" mean, from the context's ISO date."""
    if "year" not in sentence:
        return frozenset()
    dated = _ISO_DATE_RE.search(context)
    if not dated:
        return frozenset()
    base = int(dated.group(1))
    found = set()
    for match in _RELATIVE_YEAR_RE.finditer(sentence):
        word = (match.group(1) or "last").lower()
        found.add(base + {"last": -1, "this": 0, "next": 1}[word])
    return frozenset(found)


def _year_holds(
    year: int, in_question: _Time, mine: _Time, around: _Time, relative: frozenset[int]
) -> bool:
    """The sentence states the year, or states no other year and the context has it.

    A year the question itself asks "since" or "between" is met by any mention of it.
    """
    if year in mine.anchor_years or year in relative:
        return True
    if mine.anchor_years or relative:
        return False
    if year not in in_question.anchor_years and year in mine.all_years:
        return True
    return year in around.anchor_years


def _quarter_holds(quarter: Quarter, mine: _Time, around: _Time) -> bool:
    """The sentence names the quarter, or names none and the context does."""
    number, year = quarter

    def matches(found: frozenset[Quarter]) -> bool:
        return any(q == number and (y is None or year is None or y == year) for q, y in found)

    if mine.anchor_quarters:
        return matches(mine.anchor_quarters)
    return matches(around.all_quarters) or matches(mine.all_quarters)


def _date_holds(date: tuple[int, int], mine: _Time, around: _Time) -> bool:
    """The sentence has the date, or has no other date and the context has it (or its date)."""
    if date in mine.dates:
        return True
    if mine.dates:
        return False
    return date in around.dates


def _month_holds(month: int, mine: _Time, around: _Time) -> bool:
    """The sentence names the month, or names no other month and the context has it."""
    if month in mine.months:
        return True
    if mine.anchor_months:
        return False
    return month in around.months


def periods(text: str) -> list[str]:
    """The quarters and years a text is about, in words ("Q1 2022", "2019"), in order."""
    found: list[str] = []
    quarters = _quarters(text)
    for quarter, year in sorted(quarters, key=lambda q: (q[1] or 0, q[0])):
        found.append(f"Q{quarter} {year}" if year else f"Q{quarter}")
    quarter_years = {year for _, year in quarters if year}
    found += [str(year) for year in sorted(_years(text) - quarter_years)]
    return found


def asked_periods(asked: AskedTime) -> list[str]:
    """The periods the question asks about, in words: "Q1 2021", "October 2022", "2018"."""
    if asked.months and len(asked.years) == 1:
        year = asked.years[0]
        return [f"{calendar.month_name[m]} {year}" for m in asked.months]
    return periods(asked.question)


def periods_about(
    sentence: str, title: str, published: datetime.date | None, asked: AskedTime
) -> list[str]:
    """The periods a sentence is about, in the question's terms (quarters for a question about
    a quarter, months for one about a month, else years): its own, not those after "since";
    else its title's; else, for news dated only "on Friday", its document's date."""
    mine = _time(sentence)
    if asked.quarters:
        quarters = mine.anchor_quarters or _time(title).anchor_quarters
        if published:  # "the first quarter" in a report of April 2023 is Q1 2023
            quarters = frozenset((q, y or _reported_year(q, published)) for q, y in quarters)
        return [f"Q{q} {y}" if y else f"Q{q}" for q, y in sorted(quarters, key=_quarter_order)]
    headline = _time(title)
    dated_that_day = published if _PUBLICATION_DAY_RE.search(sentence) else None
    years = mine.anchor_years or headline.anchor_years
    if not years and dated_that_day:
        years = frozenset({dated_that_day.year})
    if asked.months and len(years) == 1:
        months = mine.anchor_months or headline.anchor_months
        if not months and dated_that_day:
            months = frozenset({dated_that_day.month})
        if months:
            (year,) = years
            return [f"{calendar.month_name[m]} {year}" for m in sorted(months)]
    return [str(y) for y in sorted(years)]


def _reported_year(quarter: int, published: datetime.date) -> int:
    """The year of a quarter named without one in a report published on that date: the
    latest such quarter that had ended by then."""
    return published.year if published.month > 3 * quarter else published.year - 1


def _quarter_order(quarter: Quarter) -> tuple[int, int]:
    return (quarter[1] or 0, quarter[0])


_PAST_QUESTION_RE = re.compile(
    r"\b(?:did|was|were|had|won|lost|named|appointed|elected|launched|released|announced"
    r"|reported|paid|bought|sold|hosted|headlined|died|killed|struck|rose|fell)\b",
    re.I,
)
_FUTURE_RE = re.compile(
    r"\b(?:will|won't|shall|expects?|expected|forecasts?|due\s+to\s+be|scheduled\s+to"
    r"|upcoming|preview|set\s+to|slated|aims?\s+to|hopes?\s+to"
    r"|in\s+contention|shortlist(?:ed)?|contenders?|favou?rites?\s+to|tipped)\b|'ll\b",
    re.I,
)


def speculates(sentence: str, question: str) -> bool:
    """Whether a question about the past meets a sentence about expectations or plans (one
    that also states the question's own past verb, "announced that … will", reports a fact)."""
    asked = {m.group().lower() for m in _PAST_QUESTION_RE.finditer(question)}
    if not asked or not _FUTURE_RE.search(sentence):
        return False
    said = {m.group().lower() for m in _PAST_QUESTION_RE.finditer(sentence)}
    return not (asked - {"did", "was", "were", "had"}) & said
