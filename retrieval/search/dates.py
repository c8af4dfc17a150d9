"""Date-aware questions, the reading part: find the time a question is about, and the dates
a passage states. `retrieval.search.dated` applies them to a search.

`detect` reads a question such as "latest news on …", "what happened in March 2024 …",
"before 22 March 2024 …", "since last week …" or "what did X say before the attack …" and
returns a `DateConstraint`: a range of publication dates (inclusive), a preferred order
(newest or oldest first), or an event ("the attack") whose date the archive must supply.

The archive applies a range as a filter on the documents' dates (falling back to the whole
archive when nothing dated matches), an order as a re-ranking of the relevant hits, and an
event by finding the date the best passages about that event give for it (`event_date`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from retrieval.text import MONTHS

Order = Literal["newest", "oldest"]
Relation = Literal["before", "after"]

_MONTHS = MONTHS
_MONTH_NAMES = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec"
)
# With a year beside it a month name may be in any case; alone it must be capitalised
# ("in May", not "may").
_MONTH = r"(?P<{0}>(?i:" + _MONTH_NAMES + r"))\.?"
_MONTH_CAP = r"(?P<{0}>(?:" + _MONTH_NAMES.title() + r"))\.?"
_ORD = r"(?:st|nd|rd|th)?"
_YEAR = r"(?P<{0}>(?:1[6-9]|20)\d\d)"

# A point or period in time, most specific forms first. Named groups: y/m/d, rel (relative).
_DAYS_TO = rf"(?P<d1>\d{{1,2}}){_ORD}\s*(?:-|–|to|and|until|through)\s*(?P<d>\d{{1,2}}){_ORD}"
_PATTERNS: tuple[tuple[str, str], ...] = (
    # Days of one month: "1-15 March 2024", "between 1 and 15 March 2024", "March 1-15, 2024".
    ("ddmy", rf"\b{_DAYS_TO}\s+(?:of\s+)?{_MONTH.format('m')},?\s+{_YEAR.format('y')}\b"),
    ("mddy", rf"\b{_MONTH.format('m')}\s+{_DAYS_TO},?\s+{_YEAR.format('y')}\b"),
    ("iso", rf"\b{_YEAR.format('y')}-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}})\b"),
    (
        "dmy",
        rf"\b(?P<d>\d{{1,2}}){_ORD}\s+(?:of\s+)?{_MONTH.format('m')},?\s+{_YEAR.format('y')}\b",
    ),
    ("mdy", rf"\b{_MONTH.format('m')}\s+(?P<d>\d{{1,2}}){_ORD},?\s+{_YEAR.format('y')}\b"),
    ("my", rf"\b{_MONTH.format('m')},?\s+(?:of\s+)?{_YEAR.format('y')}\b"),
    ("dm", rf"\b(?P<d>\d{{1,2}}){_ORD}\s+(?:of\s+)?{_MONTH_CAP.format('m')}\b"),
    ("md", rf"\b{_MONTH_CAP.format('m')}\s+(?P<d>\d{{1,2}}){_ORD}\b(?!\s*\d)"),
    (
        "rel",
        r"(?i:\b(?P<rel>today|yesterday|(?:this|last|past|previous)\s+(?:week|month|year)"
        r"|(?:the\s+)?(?:last|past|previous)\s+(?P<n>\d{1,3})\s+(?P<unit>days?|weeks?|months?|years?)))\b",
    ),
    # A bare year or month only counts after a preposition (see _PREPOSITION).
    ("y", rf"\b{_YEAR.format('y')}\b"),
    (
        "m",
        r"\b(?P<m>January|February|March|April|May|June|July|August|September|October"
        r"|November|December)\b",
    ),
)
_COMPILED = tuple((kind, re.compile(pattern)) for kind, pattern in _PATTERNS)
_PREPOSITION = re.compile(
    r"(?i:\b(in|during|on|of|from|since|before|after|until|till|by|between|and|to|through"
    r"|throughout|prior\s+to|earlier\s+than|later\s+than|up\s+to|as\s+of|following)\s+(?:the\s+)?)$"
)
_BEFORE = re.compile(
    r"(?i:\b(before|until|till|prior\s+to|earlier\s+than|up\s+to|by)\s+(?:the\s+)?)$"
)
_AFTER = re.compile(r"(?i:\b(after|since|later\s+than|following|as\s+of|from)\s+(?:the\s+)?)$")
_NEWEST = re.compile(
    r"(?i:\b(latest|newest|most\s+recent(?:ly)?|recent(?:ly)?|last\s+(?:news|report|update)s?"
    r"|up[- ]to[- ]date)\b)"
)
_OLDEST = re.compile(r"(?i:\b(earliest|oldest|first\s+(?:news|report|mention|article)s?)\b)")
_EVENT = re.compile(
    r"(?i:\b(?P<rel>before|after|since|prior\s+to|following|until)\s+"
    r"(?P<event>(?:the|a|an|his|her|its|their|this|that)\s+[^,;:?!.]+?))"
    r"(?=\s*(?:[,;:?!.]|$|\b(?:what|who|whom|which|did|does|do|was|were|is|are|how|when|where"
    r"|why|and|or|but)\b))"
)


@dataclass(frozen=True)
class DateConstraint:
    """The time a question is about: a range of dates (inclusive; None = open), a preferred
    order of the relevant hits, or an event whose date sets the range once it is known."""

    phrase: str
    start: date | None = None
    end: date | None = None
    order: Order | None = None
    event: str | None = None
    relation: Relation | None = None

    @property
    def has_range(self) -> bool:
        return self.start is not None or self.end is not None

    def ordinal_range(self) -> tuple[int, int] | None:
        """The range as (first, last) proleptic ordinals, as the index stores dates."""
        if not self.has_range:
            return None
        first = self.start.toordinal() if self.start else 1
        last = self.end.toordinal() if self.end else date.max.toordinal()
        return first, last

    def contains(self, day: date | None) -> bool:
        if day is None:
            return False
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def resolved(self, day: date) -> DateConstraint:
        """The constraint once its event is known to have happened on `day`."""
        if self.relation == "before":
            return replace(self, end=day - timedelta(days=1))
        return replace(self, start=day + timedelta(days=1))

    def describe(self) -> str:
        """The range in words, for notes shown with an answer."""
        if self.start and self.end:
            if self.start == self.end:
                return f"on {self.start.isoformat()}"
            return f"from {self.start.isoformat()} to {self.end.isoformat()}"
        if self.start:
            return f"from {self.start.isoformat()} on"
        if self.end:
            return f"up to {self.end.isoformat()}"
        if self.event:
            return f"{self.relation} {self.event}"
        return f"{self.order} first" if self.order else ""


@dataclass(frozen=True)
class _Period:
    start: date
    end: date
    span: tuple[int, int]  # where it stands in the question
    closed: bool = False  # a range with both ends stated ("1-15 March 2024")


def detect(question: str, today: date | None = None) -> DateConstraint | None:
    """The date constraint a question states, if any. `today` anchors relative expressions
    ("last week") and dates without a year ("in March" = the latest March up to today)."""
    today = today or date.today()
    periods = _periods(question, today)
    if periods:
        return _constraint(question, periods)
    event = _EVENT.search(question)
    if event:
        relation: Relation = (
            "before" if event["rel"].lower() in ("before", "prior to", "until") else "after"
        )
        phrase = " ".join(event["event"].split())
        return DateConstraint(event[0].strip(), event=phrase, relation=relation)
    newest = _NEWEST.search(question)
    if newest:
        return DateConstraint(newest[0], order="newest")
    oldest = _OLDEST.search(question)
    if oldest:
        return DateConstraint(oldest[0], order="oldest")
    return None


def _constraint(question: str, periods: list[_Period]) -> DateConstraint:
    first = periods[0]
    phrase_end = first.span[1]
    if len(periods) >= 2:
        between = question[first.span[1] : periods[1].span[0]].strip().lower()
        if between in ("and", "to", "until", "till", "through", "-", "–"):
            start, end = sorted((first.start, periods[1].start))
            last = max(first.end, periods[1].end)
            phrase = question[_phrase_start(question, first) : periods[1].span[1]]
            return DateConstraint(phrase.strip(), start=start, end=max(end, last))
    before_text = question[: first.span[0]]
    phrase = question[_phrase_start(question, first) : phrase_end].strip()
    order: Order | None = "newest" if _NEWEST.search(question) else None
    if _BEFORE.search(before_text):
        return DateConstraint(phrase, end=first.start - timedelta(days=1), order=order)
    after = _AFTER.search(before_text)
    # "from 3 to 5 April" states both ends: "from" opens nothing there.
    if after and not (first.closed and after[1].lower() == "from"):
        word = after[1].lower()
        start = first.start if word in ("since", "as of", "from") else first.end + timedelta(days=1)
        return DateConstraint(phrase, start=start, order=order)
    return DateConstraint(phrase, start=first.start, end=first.end, order=order)


def _phrase_start(question: str, period: _Period) -> int:
    found = _PREPOSITION.search(question[: period.span[0]])
    return found.start() if found else period.span[0]


def _periods(question: str, today: date) -> list[_Period]:
    """The periods the question names, in order, without overlaps."""
    found: list[_Period] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _COMPILED:
        for match in pattern.finditer(question):
            span = match.span()
            if any(span[0] < b and a < span[1] for a, b in taken):
                continue
            if kind in ("y", "m") and not _PREPOSITION.search(question[: span[0]]):
                continue
            period = _period(kind, match, today)
            if period is None:
                continue
            taken.append(span)
            found.append(_Period(period[0], period[1], span, closed=kind in ("ddmy", "mddy")))
    return sorted(found, key=lambda p: p.span)


def _period(kind: str, match: re.Match[str], today: date) -> tuple[date, date] | None:
    groups = match.groupdict()
    try:
        if kind == "rel":
            return _relative(groups, today)
        month = _month(groups.get("m"))
        year = int(groups["y"]) if groups.get("y") else None
        day = int(groups["d"]) if groups.get("d") else None
        if kind == "y" and year is not None:
            return date(year, 1, 1), date(year, 12, 31)
        if month is None:
            return None
        if year is None:
            year = today.year
            if (month, day or 1) > (today.month, today.day):
                year -= 1  # "in March" asked in January means last March
        if day is None:
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
        exact = date(year, month, day)
        if groups.get("d1"):
            first, last = sorted((date(year, month, int(groups["d1"])), exact))
            return first, last
        return exact, exact
    except ValueError:  # "February 30"
        return None


def _month(value: str | None) -> int | None:
    if not value:
        return None
    text = value.lower().rstrip(".")
    if text.isdigit():
        number = int(text)
        return number if 1 <= number <= 12 else None
    return _MONTHS.get(text)


def _relative(groups: dict[str, str | None], today: date) -> tuple[date, date] | None:
    rel = " ".join((groups.get("rel") or "").lower().split())
    if rel == "today":
        return today, today
    if rel == "yesterday":
        day = today - timedelta(days=1)
        return day, day
    if groups.get("n"):
        n = int(groups["n"] or 0)
        unit = (groups.get("unit") or "").rstrip("s")
        days = {"day": 1, "week": 7, "month": 30, "year": 365}[unit] * n
        return today - timedelta(days=days), today
    which, _, unit = rel.partition(" ")
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        if which == "this":
            return monday, today
        if which == "past":
            return today - timedelta(days=7), today
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if unit == "month":
        first = today.replace(day=1)
        if which == "this":
            return first, today
        if which == "past":
            return today - timedelta(days=30), today
        end = first - timedelta(days=1)
        return end.replace(day=1), end
    if unit == "year":
        if which == "this":
            return date(today.year, 1, 1), today
        if which == "past":
            return today - timedelta(days=365), today
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    return None


def mentioned_dates(text: str, published: date | None) -> list[date]:
    """Dates a passage states ("on March 22", "22 March 2024"); a date without a year takes
    the publication year (the year before, if that would put it after publication)."""
    anchor = published or date.today()
    found = []
    for _, start, end in _periods_in(text, anchor):
        if start == end:
            found.append(start)
    return found


def _periods_in(text: str, anchor: date) -> list[tuple[str, date, date]]:
    out: list[tuple[str, date, date]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _COMPILED:
        if kind in ("rel", "y", "m"):
            continue
        for match in pattern.finditer(text):
            span = match.span()
            if any(span[0] < b and a < span[1] for a, b in taken):
                continue
            period = _period(kind, match, anchor)
            if period is not None:
                taken.append(span)
                out.append((kind, period[0], period[1]))
    return out
