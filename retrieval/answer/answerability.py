"""Answerability: does a sentence answer the question, and where in it does the answer stand?

Pure, rule-based and fast (tens of microseconds a sentence): regular expressions and small word
lists, no model. The rules:

- `analyze` reads the question's expected answer type from its wh-word ("who" wants a name,
  "when" a date, "where" a place, "how many" a number, "how much" an amount; "which X" and
  "what X" use the head noun X: "what company" wants a name, "what city" a place, "what was
  Tesla's revenue" an amount); yes/no, "why" and "how" questions want any supporting sentence.
  Keyword queries ("Super Bowl 2022 location") take their type from cue nouns. It also reads
  the question's constraints: years, quarters, full dates, months, other numbers, ordinals
  and names (capitalised words and multiword names).
- `candidates` finds the spans of a sentence that have the expected type and that the question
  does not itself contain: a "Who …?" is not answered by the names the question already has.
- `constraints_hold` checks that every constraint is met by the sentence or its context
  (passage, title, document date). A year or quarter the sentence itself states overrides the
  context: a sentence about 2022 does not answer a question about 2018 because its passage
  mentions 2018. Years after "since", "from", "compared with" and the like are not what the
  sentence is about ("since 2018" in a sentence about 2022); "until 1796, when …" is.
- `is_echo` rejects sentences that carry no answer whatever their words: questions, headlines
  and list titles without a verb ("Tesla Q2 2020 revenue.", "2018 Winter Olympics - Medal
  Tracker."), calls to action ("Check out the medal count.") and sentences made only of the
  question's own words.
- `answers` combines them: the best answer span, or None when the sentence does not answer.
"""

from __future__ import annotations

import calendar
import datetime
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from retrieval.text import MONTHS, STOPWORDS, terms


class AnswerType(StrEnum):
    """What kind of answer a question expects."""

    PERSON = "person"  # who: a person, an organisation or a group, by name
    ORG = "org"  # which company / team / party: a name
    PLACE = "place"  # where / what city: a name, preferably after "in", "at", "from"
    DATE = "date"  # when / what year
    NUMBER = "number"  # how many / how old / how long: a count or measure
    AMOUNT = "amount"  # how much / revenue / price: money, a percentage or a quantity
    THING = "thing"  # what X with no known kind: something the question does not say
    SUPPORT = "support"  # yes/no, why, how: any supporting sentence


@dataclass(frozen=True)
class Span:
    """Character offsets [start, end) of an answer inside a sentence, and what kind it is."""

    start: int
    end: int
    kind: str

    def text(self, sentence: str) -> str:
        """The answer's words."""
        return sentence[self.start : self.end]


@dataclass(frozen=True)
class QuestionAnalysis:
    """The question's expected answer type and the constraints an answer must meet."""

    question: str
    answer_type: AnswerType
    head: str | None = None  # the noun of "which X" / "what X" / "what is the X of"
    years: tuple[int, ...] = ()
    quarters: tuple[tuple[int, int | None], ...] = ()  # (quarter, year or None)
    dates: tuple[tuple[int, int], ...] = ()  # (month, day); a year is also in `years`
    months: tuple[int, ...] = ()
    numbers: tuple[str, ...] = ()  # other numbers, as digits without separators
    ordinals: tuple[int, ...] = ()
    names: tuple[str, ...] = ()
    words: frozenset[str] = frozenset()  # the question's lower-cased words
    stems: frozenset[str] = frozenset()  # the question's content terms, stemmed
    subject: bool = False  # "Who won …?" wants the name before the verb, "Who did X beat?" not
    # For each news event the question asks about ("won", "died", "cost" …), the words that
    # report it; an answering sentence must have one of each ("reached the final" ≠ "won").
    events: tuple[frozenset[str], ...] = ()
    counted: str = ""  # the stemmed noun of "how many X" ("people"), "" otherwise


# ---------------------------------------------------------------------------------------------
# Word lists
# ---------------------------------------------------------------------------------------------

WEEKDAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs "
    "fri sat sun".split()
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
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
    " sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety"
    " hundred thousand million billion trillion dozen dozens hundreds thousands millions"
    " billions half quarter".split()
)
_WORD_VALUES = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
        " fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "dozen": "12"}
# Capitalised words that start sentences without being names.
_NOT_NAMES = (
    STOPWORDS
    | WEEKDAYS
    | frozenset(MONTHS)
    | frozenset(
        """according after although among another around as at although because before
        besides despite during earlier even eventually finally following further furthermore
        however in instead later last like many meanwhile moreover most much next nonetheless
        now once one other others overall perhaps previously rather recently several since
        so some still such then thereafter therefore these this those though thus today
        tomorrow together unlike until upon what whatever when where whether which while who
        whose why yesterday yet also both each either neither every many few first second
        third fourth fifth mr mrs ms dr sir its his her their our my your we they he she it
        there here i no yes not nor new former current early late top under over
        let let's said says according""".split()
    )
)
_CONNECTORS = frozenset("of de da del della der van von la le du al bin el y & the for".split())

_PERSON_HEADS = frozenset(
    """person people man men woman women player players president presidents leader leaders
    ceo ceos chief founder founders actor actress singer artist author writer driver drivers
    rider riders coach manager minister king queen prince princess athlete politician
    candidate winner winners champion champions director scientist member captain pitcher
    quarterback chancellor premier governor senator judge emperor pope composer architect
    inventor owner chairman chairwoman chair executive official spokesman spokesperson
    golfer striker goalkeeper cyclist boxer skater swimmer runner musician rapper boss mayor
    sultan general officer investor buyer seller successor predecessor head husband wife son
    daughter father mother brother sister child children philosopher poet painter economist
    analyst host presenter journalist reporter editor lawyer doctor physicist chemist
    mathematician explorer ruler monarch dynasty family tribe""".split()
)
_ORG_HEADS = frozenset(
    """company companies firm firms team teams club clubs organization organisation
    organizations organisations group groups band bands party parties agency agencies
    university universities college school network airline airlines brand brands
    manufacturer carmaker automaker bank banks newspaper channel studio label publisher
    carrier startup business corporation retailer franchise institution league government
    union alliance coalition army navy court church broadcaster sponsor supplier rival
    rivals opponent opponents developer maker operator provider insurer lender""".split()
)
_PLACE_HEADS = frozenset(
    """city cities country countries state states town towns region regions venue venues
    stadium stadiums arena location locations place places nation nations continent province
    county island islands capital area site district village neighborhood neighbourhood
    street river mountain airport port circuit destination headquarters hq address border
    territory borough suburb""".split()
)
_DATE_HEADS = frozenset("year years date dates day days month months century decade time".split())
_NUMBER_HEADS = frozenset(
    """number numbers percentage percent share total count population age score rate size
    length height distance capacity attendance margin temperature speed weight duration
    majority turnout toll death deaths casualties magnitude depth area volume altitude
    elevation""".split()
)
_AMOUNT_HEADS = frozenset(
    """revenue revenues sales price prices cost costs profit profits loss losses income
    earnings salary budget value valuation worth fee fees fine payment debt funding spending
    prize bonus wage wages tax taxes gdp turnover ebitda dividend dividends amount sum bill
    investment investments compensation fare fares deficit surplus""".split()
)
_ASKING_WORDS = frozenset(
    "who whom whose when where why how which what is are was were do does did has have had can "
    "could will would should may might must shall name list tell give".split()
)
_AUXILIARIES = frozenset(
    "is are was were do does did has have had can could will would should may might must shall"
    " am isn't aren't wasn't weren't don't doesn't didn't hasn't haven't won't can't".split()
)
# Verbs whose forms do not end in -ed/-s but that headlines and short sentences often use.
_COMMON_VERBS = frozenset(
    """is are was were be been being am has have had do does did will would can could shall
    should may might must won win wins beat beats took take takes made make makes said say
    says told tell got get gets gave give gives went go goes came come comes saw see sees
    became become becomes began begin begins held hold holds left leave leaves lost lose
    loses ran run runs set sets put puts paid pay pays rose rise rises fell fall falls grew
    grow grows hit hits led lead leads met meet meets sold sell sells bought buy buys
    built build builds brought bring brings kept keep keeps found find finds knew know
    thought think stood stand meant mean spent spend sent send struck strike wrote write
    born""".split()
)


def _event_words(groups: dict[str, str]) -> dict[str, frozenset[str]]:
    """Each asking word mapped to the words that report its event (its own group included)."""
    table: dict[str, frozenset[str]] = {}
    for asking, reporting in groups.items():
        words = frozenset(reporting.split()) | frozenset(asking.split())
        for word in asking.split():
            table[word] = words
    return table


# The events news questions ask about most, by the verbs that ask for them, and the words a
# report of each uses. A question with one of these verbs is only answered by a sentence that
# reports that event: "Which team won the Finals?" is not answered by "The Heat reached the
# Finals", nor "Who was appointed coach?" by "The club fired its coach Paul Hendry".
_EVENTS = _event_words(
    {
        "win won wins": """winning winner winners beat beats beating defeated defeat defeats
            defeating victory victorious champion champions title titles crowned triumph
            triumphed clinched claimed retained gold elected awarded earned""",
        "appointed appoint appoints named hired": """appointment named name names hire hires
            hiring picked chose chosen selected tapped succeed succeeds succeeded replace
            replaces replaced replacing successor promoted installed elevated new""",
        "died die dies killed kill": """dead death deaths killing kills toll fatalities
            perished lives massacred murdered slain executed""",
        "cost costs": """price prices priced sells sold retail retails starts starting
            charge charges costing""",
        "pay paid pays": """fee fees deal price priced bought buys acquired acquires
            acquisition purchase purchased paying payment valued signed sign signs cost costs
            charged charge charges""",
        "release released releases launch launched launches": """sale available unveiled
            debuted debut arrived shipped shipping lifted liftoff blasted launching
            releasing premiered premiere opened issued published""",
        "begin began begins start started starts": """opened opens open opening kicked
            launched launch debut debuted first beginning starting""",
        "host hosted hosts": """held hold holds staged stage play played venue hosting
            took opened opens opening""",
        "buy bought buys acquire acquired acquires": """acquisition purchase purchased
            takeover deal buying acquiring agreed completed""",
    }
)

# ---------------------------------------------------------------------------------------------
# Regular expressions
# ---------------------------------------------------------------------------------------------

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
_DIGITS_RE = re.compile(r"\d[\d,]*(?:\.\d+)?")
_DIGIT_ORDINAL_RE = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_ISO_DATE_RE = re.compile(r"\b(\d{4})-\d{2}-\d{2}\b")
_DATE_SPAN_RE = re.compile(
    rf"\b(?:(?:early|mid|late)[\s-])?(?:{_MONTH}\s+[0-3]?\d(?:st|nd|rd|th)?(?:,?\s*{_YEAR})?"
    rf"|[0-3]?\d(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s*{_YEAR})?"
    rf"|{_MONTH},?\s+{_YEAR}"
    rf"|{_YEAR}-[01]\d-[0-3]\d"
    rf"|(?:the\s+)?{_YEAR}s|(?:the\s+)?'\d0s"
    rf"|(?:the\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)|[a-z]+(?:teenth|tieth|first|second|third|fifth"
    rf"|eighth|ninth|tenth|eleventh|twelfth|fourth|sixth|seventh))[\s-]century"
    rf"|(?:(?:spring|summer|autumn|fall|winter)\s+(?:of\s+)?)?{_YEAR}"
    rf"|(?:january|february|march|april|june|july|august|september|october|november|december)"
    rf"|(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    rf"|yesterday|today|tomorrow|tonight"
    rf"|(?:last|next|this|earlier this|later this)\s+(?:week|month|year|season|spring|summer"
    rf"|autumn|fall|winter|weekend))\b"
    rf"|\b(?:Q[1-4]|[1-4]Q)(?:\s*'?{_YEAR})?\b",
    re.I,
)
_DATE_SEEDS = (
    frozenset(MONTHS)
    | WEEKDAYS
    | frozenset(
        "yesterday today tomorrow tonight last next this earlier later spring summer autumn"
        " fall winter early mid late".split()
    )
)
_DATE_PREFIX_RE = re.compile(r"\b(?:(?:the\s+)?(?:early|mid|late)[\s-]+|the\s+)$", re.I)
_QUARTER_TOKEN_RE = re.compile(r"q[1-4]$|[1-4]q")
_NUMBER_SEEDS = _NUMBER_WORDS | frozenset(("a", "half"))
_CURRENCY_BEFORE_RE = re.compile(r"(?:US\$|A\$|C\$|HK\$|[$€£¥₹]|USD|EUR|GBP|Rs\.?)\s?$")
_SCALE = r"(?:hundred|thousand|million|billion|trillion|bn|mn|m|b|k|tn)\b"
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUMBER_WORD = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety|hundred|a hundred|a thousand|a dozen|dozens|hundreds|thousands|millions"
    r"|billions|half a|a million|a billion)"
)
_CURRENCY = r"(?:US\$|A\$|C\$|HK\$|\$|€|£|¥|₹|USD|EUR|GBP|JPY|CNY|CHF|Rs\.?)"
_CURRENCY_WORD = (
    r"(?:dollars?|euros?|pounds?(?: sterling)?|yen|yuan|renminbi|rupees?|francs?|pesos?"
    r"|roubles?|rubles?|won|cents?|pence)"
)
_MONEY_RE = re.compile(
    rf"{_CURRENCY}\s?{_NUM}(?:\s?{_SCALE})?"
    rf"|\b{_NUM}(?:\s?{_SCALE})?\s+(?:{_NUMBER_WORD}\s+)?{_CURRENCY_WORD}\b"
    rf"|\b{_NUMBER_WORD}(?:\s+(?:million|billion|thousand))?\s+{_CURRENCY_WORD}\b",
    re.I,
)
_PERCENT_RE = re.compile(
    rf"\b{_NUM}\s?(?:%|percent\b|per cent\b|percentage points?\b)"
    rf"|\b{_NUMBER_WORD}\s(?:percent|per cent)\b",
    re.I,
)
_NUMBER_RE = re.compile(
    r"\b(?:one|a|two|three)[\s-](?:half|third|thirds|quarter|quarters|fifth|fifths)\b"
    rf"|(?<![\w.])(?:about |around |nearly |almost |over |more than |some )?"
    rf"{_NUM}(?:\s?(?:{_SCALE}|{_NUMBER_WORD}\b))?"
    rf"|\b{_NUMBER_WORD}(?:[\s-](?:one|two|three|four|five|six|seven|eight|nine|hundred"
    rf"|thousand|million|billion))*\b",
    re.I,
)
_ORDINAL_RE = re.compile(
    r"\b(\d+)(?:st|nd|rd|th)\b|\b(" + "|".join(_ORDINAL_WORDS) + r")\b(?=\s+[A-Z])",
)
_RELATIVE_YEAR_RE = re.compile(r"\b(last|this|next) year\b|\ba year (?:ago|earlier)\b", re.I)
# Years and quarters after these words are not what the sentence is about.
_NOT_ABOUT_RE = re.compile(
    r"\b(?:since|from|before|after|prior to|compared (?:with|to)|versus|vs"
    r"|than|a year earlier|year-earlier|year-ago|between|as far back as)\b",
    re.I,
)
# The words a "since" or "compared with" governs: up to six, not across a comma or line.
_NOT_ABOUT_TAIL_RE = re.compile(r"(?:[^\S\n]+(?:\d[\d,.]*\d|[\w$€£%'’-]+)){1,6}")
_BOILERPLATE_RE = re.compile(
    r"^\W*(?:check out|click|tap here|subscribe|read more|read the|sign up|follow us|follow"
    r" the|watch:|watch the|watch live|listen:|related:|related articles?|see also|see more"
    r"|share this|advertisement|download the|get the latest|join us|register now|learn more"
    r"|find out more|more on this|photo:|image:|video:|copyright|all rights reserved"
    r"|live updates|breaking:|sponsored)",
    re.I,
)
_TITLE_SEPARATOR_RE = re.compile(r"\s[-–—|:]\s|:\s")
_LABEL_VALUE_RE = re.compile(r":\s*(?:[$€£¥]|\d)")
_PLACE_CUE_RE = re.compile(
    r"\b(?:in|at|from|near|to|across|into|outside|inside|toward|towards|of)\s+(?:the\s+)?$",
    re.I,
)
_WH_RE = re.compile(r"\b(who|whom|whose|when|where|why|how|which|what)\b", re.I)
_HOW_NUMBER_RE = re.compile(
    r"\bhow\s+(many|much|long|old|far|big|tall|high|large|fast|deep|wide|heavy|often|few"
    r"|early|late|soon|small|short|low)\b",
    re.I,
)
_SUBJECT_RE = re.compile(
    r"\b(?:who|(?:which|what)\s+[a-z]+)\s+([A-Za-z']+)(?:\s+([A-Za-z']+))?", re.I
)
_QUESTION_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
# "When X happened, who …?", "If q=9, how many …?": the wh-word of the main clause counts.
_LEADING_CLAUSE_RE = re.compile(
    r"^(?:when|if|while|after|before|since|although|though|once|as|because|given|besides)\b"
    r"[^,?]*,\s*",
    re.I,
)
_TRAILING_WH_RE = re.compile(r"\b(?:who|whom|what|which|where|when)\W*$", re.I)


# ---------------------------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------------------------


def analyze(question: str) -> QuestionAnalysis:
    """The question's expected answer type, head noun and constraints."""
    answer_type, head = _answer_type(question)
    quarters = _quarters(question)
    years = _years(question) | {y for _, y in quarters if y is not None}
    full_dates = _full_dates(question)
    years |= {y for _, _, y in full_dates if y is not None}
    months = {m for m, _ in _months(question)} - {m for m, _, _ in full_dates}
    lowered = [w.lower() for w in _QUESTION_WORD_RE.findall(question)]
    return QuestionAnalysis(
        question=question,
        answer_type=answer_type,
        head=head,
        years=tuple(sorted(years)),
        quarters=tuple(sorted(quarters, key=lambda q: (q[0], q[1] or 0))),
        dates=tuple(sorted({(m, d) for m, d, _ in full_dates})),
        months=tuple(sorted(months)),
        numbers=tuple(_other_numbers(question)),
        ordinals=tuple(sorted(_ordinals(question))),
        names=tuple(_question_names(question)),
        words=frozenset(w for word in lowered for w in (word, _possessive(word))),
        stems=frozenset(filter(None, (_stem(w) for w in lowered))),
        subject=_wants_subject(question),
        events=tuple(dict.fromkeys(_EVENTS[w] for w in lowered if w in _EVENTS)),
        counted=_counted(question),
    )


def _counted(question: str) -> str:
    """The stem of what "how many …" counts: "How many paid subscribers did …" → "subscrib"."""
    match = re.search(r"\bhow\s+many\s+((?:[a-z'-]+\s*){1,3})", question, re.I)
    if match is None:
        return ""
    words = match.group(1).lower().split()
    return _stem(_head_noun(words)) if words else ""


def _wants_subject(question: str) -> bool:
    """Whether the wh-word is the subject: "Who won", "Which team was beaten", not "Who did X".

    True when the wh-phrase is followed by a verb, or by an auxiliary and a lower-case word.
    """
    match = _SUBJECT_RE.search(question)
    if match is None:
        return False
    following = match.group(1)
    if following.lower() in _AUXILIARIES:
        after = match.group(2) or ""
        return after[:1].islower() and after.lower() not in STOPWORDS
    return following.islower() and following not in STOPWORDS


def _answer_type(question: str) -> tuple[AnswerType, str | None]:
    """The expected answer type and head noun, from the wh-word or from cue nouns."""
    text = _main_clause(question.strip())
    lower = text.lower()
    how = _HOW_NUMBER_RE.search(lower)
    if how:
        word = how.group(1)
        proportion = word == "much" and lower.startswith(" of", how.end())
        amount = word == "much" and not proportion
        return (AnswerType.AMOUNT if amount else AnswerType.NUMBER), word
    wh = _WH_RE.search(lower)
    first = lower.split(maxsplit=1)[0] if lower else ""
    if first in _AUXILIARIES and (wh is None or wh.start() > 0):
        return AnswerType.SUPPORT, None
    if wh is None:
        return _keyword_type(lower)
    word = wh.group(1)
    if word in ("who", "whom", "whose"):
        return AnswerType.PERSON, None
    if word == "when":
        return AnswerType.DATE, None
    if word == "where":
        return AnswerType.PLACE, None
    if word in ("why", "how"):
        return AnswerType.SUPPORT, None
    return _what_type(lower[wh.end() :])


def _main_clause(question: str) -> str:
    """The question without a leading clause ("When Fox left, who replaced him?" → "who
    replaced him?") or with its trailing wh-word ("… it creates what?" → "what?")."""
    tail = _TRAILING_WH_RE.search(question)
    if tail and tail.start() > 0:
        return question[tail.start() :]
    lead = _LEADING_CLAUSE_RE.match(question)
    if lead and _WH_RE.search(question, lead.end()):
        return question[lead.end() :]
    return question


def _what_type(rest: str) -> tuple[AnswerType, str | None]:
    """The type for "which/what X …", "what is the X of …" and "what is Y's X"."""
    words = [w for w in re.findall(r"[a-z0-9]+(?:'s)?", rest)]
    if not words:
        return AnswerType.THING, None
    if words[0] in ("kind", "type", "sort", "form", "name", "names") and words[1:2] == ["of"]:
        words = words[2:]
    if words and words[0] not in _AUXILIARIES:
        head = _head_noun(words)
        return _type_of_head(head), head
    # "what was Tesla's revenue", "what is the location of the Super Bowl"
    rest_words = words[1:]
    if rest_words and rest_words[0] in ("the", "a", "an"):
        rest_words = rest_words[1:]
    if rest_words and rest_words[0] in ("name", "names") and rest_words[1:2] == ["of"]:
        rest_words = rest_words[2:]
        if rest_words and rest_words[0] in ("the", "a", "an"):
            rest_words = rest_words[1:]
    phrase: list[str] = []
    for i, word in enumerate(rest_words[:6]):
        if word.endswith("'s") and i + 1 < len(rest_words):
            head = _head_noun(rest_words[i + 1 :])
            return _type_of_head(head), head
        if word in _AUXILIARIES or word in STOPWORDS or word in _COMMON_VERBS:
            break
        phrase.append(word)
    # The head is the phrase's last noun ("the Pulitzer Prize novelist" asks for a person);
    # failing that, the first word of a kind ("the prize money" asks for an amount).
    for word in [*phrase[::-1][:1], *phrase]:
        kind = _type_of_head(word)
        if kind is not AnswerType.THING:
            return kind, word
    return AnswerType.THING, None


def _head_noun(words: list[str]) -> str:
    """The head of a noun phrase: the last word before a verb, preposition or auxiliary."""
    head = words[0]
    for word in words[:4]:
        if word in _AUXILIARIES or word in STOPWORDS or word in _COMMON_VERBS:
            break
        if word.endswith("ed") and word != head:
            break
        head = word
    return head.removesuffix("'s")


def _type_of_head(head: str) -> AnswerType:
    """The answer type a head noun asks for."""
    for kind, nouns in (
        (AnswerType.PERSON, _PERSON_HEADS),
        (AnswerType.ORG, _ORG_HEADS),
        (AnswerType.PLACE, _PLACE_HEADS),
        (AnswerType.DATE, _DATE_HEADS),
        (AnswerType.AMOUNT, _AMOUNT_HEADS),
        (AnswerType.NUMBER, _NUMBER_HEADS),
    ):
        if head in nouns:
            return kind
    if len(head) > 5 and head.endswith(("ist", "ists", "ician", "icians")):
        return AnswerType.PERSON  # novelist, physicist, musician
    return AnswerType.THING


def _keyword_type(lower: str) -> tuple[AnswerType, str | None]:
    """A keyword query's type from its last cue noun ("super bowl 2022 location")."""
    for word in reversed(re.findall(r"[a-z]+", lower)):
        kind = _type_of_head(word)
        if kind is not AnswerType.THING and word not in ("time", "day", "group", "state"):
            return kind, word
    return AnswerType.SUPPORT, None


def _possessive(word: str) -> str:
    """The word without a possessive ending."""
    return word[:-2] if word.endswith(("'s", "’s")) else word


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


def _other_numbers(question: str) -> list[str]:
    """Numbers in the question that are not years, quarters, dates or ordinals."""
    covered = _covered(question, (_QUARTER_RE, _FULL_DATE_RE, _FISCAL_YEAR_RE, _YEAR_RE))
    found = []
    for match in re.finditer(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])", question):
        if any(a <= match.start() < b for a, b in covered):
            continue
        found.append(match.group().replace(",", ""))
    return found


def _covered(text: str, patterns: tuple[re.Pattern[str], ...]) -> list[tuple[int, int]]:
    """The spans that any of the patterns match."""
    return [m.span() for pattern in patterns for m in pattern.finditer(text)]


def _ordinals(text: str) -> set[int]:
    """Ordinals ("51st", "Second" before a name), quarters excluded."""
    found = set()
    for match in _ORDINAL_RE.finditer(text):
        if re.match(r"[\s-]+quarter", text[match.end() : match.end() + 9], re.I):
            continue
        digits, word = match.groups()
        found.add(int(digits) if digits else _ORDINAL_WORDS[word.lower()])
    return found


def _question_names(question: str) -> list[str]:
    """Capitalised words and multiword names in the question."""
    names = []
    for start, end in _name_runs(question):
        name = question[start:end]
        if name.lower() not in _ASKING_WORDS:
            names.append(name)
    return names


# ---------------------------------------------------------------------------------------------
# Names, dates and numbers in sentences
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _name_runs(text: str) -> tuple[tuple[int, int], ...]:
    """Spans of capitalised word sequences ("Angelique Kerber", "Tour de France")."""
    tokens = _tokens(text)
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if not tokens[i][2][0].isupper() or not _name_token(tokens, i, text):
            i += 1
            continue
        j = i + 1
        while j < len(tokens):
            if _name_token(tokens, j, text, inside=True) and _adjacent(
                text, tokens[j - 1], tokens[j]
            ):
                j += 1
            elif (
                tokens[j][2].lower() in _CONNECTORS
                and j + 1 < len(tokens)
                and _name_token(tokens, j + 1, text, inside=True)
                and _adjacent(text, tokens[j - 1], tokens[j])
                and _adjacent(text, tokens[j], tokens[j + 1])
            ):
                j += 2
            else:
                break
        runs.append((tokens[i][0], tokens[j - 1][1]))
        i = j
    return tuple(runs)


def _adjacent(text: str, left: tuple[int, int, str], right: tuple[int, int, str]) -> bool:
    """Whether two tokens are separated by white space only (no comma, dash or bracket)."""
    gap = text[left[1] : right[0]]
    return (gap.isspace() and "\n" not in gap) or gap in ("'s ", "’s ")


def _name_token(
    tokens: tuple[tuple[int, int, str], ...], i: int, text: str, inside: bool = False
) -> bool:
    """Whether the token at i can be part of a name."""
    word = tokens[i][2]
    if not word[0].isupper() or word.isdigit():
        return False
    lower = word.lower()
    if lower in MONTHS or lower in WEEKDAYS or re.fullmatch(r"q[1-4]|[1-4]q", lower):
        return False
    if inside:
        return True
    if lower in _NOT_NAMES:
        return False
    return not (_sentence_initial(text, tokens[i][0]) and lower in _COMMON_SENTENCE_STARTS)


_COMMON_SENTENCE_STARTS = frozenset(
    """today yesterday tomorrow however meanwhile still overall instead later earlier
    officials police analysts experts critics fans investors shares prices sales revenue
    profit net organizers organisers researchers scientists residents witnesses sources
    reports data figures results the""".split()
)


def _sentence_initial(text: str, offset: int) -> bool:
    """Whether offset starts the text or follows sentence-ending punctuation or a quote."""
    before = text[max(0, offset - 4) : offset].rstrip(" \"'“‘(")
    if not before and offset > 4:
        before = text[:offset].rstrip(" \"'“‘(")
    return not before or before[-1] in ".!?:\n"


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[tuple[int, int, str], ...]:
    """The text's word tokens as (start, end, word)."""
    return tuple((m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text))


@lru_cache(maxsize=4096)
def _date_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Spans of dates: full dates, months, years, decades, centuries, weekdays, relative days.

    The date pattern is tried only where a date can start (a digit, a month, a weekday, a
    relative word), which keeps it fast.
    """
    spans: list[tuple[int, int]] = []
    for start, _, word in _tokens(text):
        lower = word.lower()
        if not (word[0].isdigit() or lower in _DATE_SEEDS or _QUARTER_TOKEN_RE.match(lower)):
            continue
        if spans and start < spans[-1][1]:
            continue
        match = _DATE_SPAN_RE.match(text, start)
        if match is None:
            continue
        found = match.group()
        if found[:1].isalpha() and found.lower() in MONTHS and not found[0].isupper():
            continue
        if found.lower().startswith("may") and found[0] == "m":
            continue
        prefix = _DATE_PREFIX_RE.search(text, max(0, start - 12), start)
        spans.append((prefix.start() if prefix else start, match.end()))
    return tuple(_merge(spans))


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans joined, in order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@lru_cache(maxsize=4096)
def _number_spans(text: str) -> tuple[tuple[int, int, str], ...]:
    """Spans of money, percentages and other numbers outside dates, with their kind.

    The patterns are tried only where a number can start (a digit, a currency sign, a number
    word), which keeps them fast.
    """
    dates = _date_spans(text)
    found: list[tuple[int, int, str]] = []
    for start, _, word in _tokens(text):
        if not (word[0].isdigit() or word.lower().split("-")[0] in _NUMBER_SEEDS):
            continue
        if found and start < found[-1][1]:
            continue
        currency = _CURRENCY_BEFORE_RE.search(text, max(0, start - 5), start)
        begin = currency.start() if currency else start
        for kind, pattern in (("money", _MONEY_RE), ("percent", _PERCENT_RE)):
            match = pattern.match(text, begin) or pattern.match(text, start)
            if match:
                found.append((match.start(), match.end(), kind))
                break
        else:
            match = _NUMBER_RE.match(text, start)
            if match is None or match.group().lower() in ("one", "half", "quarter", "a"):
                continue
            if any(a <= start < b for a, b in dates):
                continue
            found.append((start, match.end(), "number"))
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------------------------


def candidates(sentence: str, analysis: QuestionAnalysis) -> list[Span]:
    """Answer spans of the expected type that the question does not contain, best first."""
    kind = analysis.answer_type
    if kind is AnswerType.SUPPORT:
        return []
    typed = [
        (span, score)
        for span, score in _typed_spans(sentence, analysis)
        if not _in_question(span.text(sentence), analysis)
    ]
    if not typed and kind is AnswerType.THING:
        typed = [(span, 0.0) for span in _new_phrases(sentence, analysis)]
    anchors = _question_word_offsets(sentence, analysis)
    not_about = _not_about_spans(sentence)
    scored = [
        (
            score
            + _proximity(span, anchors)
            + (0.3 if analysis.subject and _before_verb(sentence, span) else 0.0)
            + _counts_fit(sentence, span, analysis)
            - (0.3 if _inside(span.start, not_about) else 0.0),
            span,
        )
        for span, score in typed
    ]
    scored.sort(key=lambda pair: (-pair[0], pair[1].start))
    return [span for _, span in scored]


def _typed_spans(sentence: str, analysis: QuestionAnalysis) -> list[tuple[Span, float]]:
    """Every span of the expected type, with a type-fit score."""
    kind = analysis.answer_type
    if kind is AnswerType.DATE:
        return [(Span(a, b, "date"), 1.0) for a, b in _date_spans(sentence)]
    if kind in (AnswerType.NUMBER, AnswerType.AMOUNT):
        return _numeric_spans(sentence, analysis)
    names = [(Span(a, b, "name"), _name_fit(sentence, a, b, kind)) for a, b in _names(sentence)]
    if kind is not AnswerType.THING:
        return [(span, fit) for span, fit in names if not _modifier(sentence, span)]
    numbers = [(Span(a, b, k), 0.8) for a, b, k in _number_spans(sentence)]
    dates = [(Span(a, b, "date"), 0.6) for a, b in _date_spans(sentence)]
    return names + numbers + dates


def _names(sentence: str) -> list[tuple[int, int]]:
    """Name spans, with leading articles and a trailing possessive left out."""
    spans = []
    for start, end in _name_runs(sentence):
        text = sentence[start:end]
        if text.endswith(("'s", "’s")):
            end -= 2
        spans.append((start, end))
    return spans


def _modifier(sentence: str, span: Span) -> bool:
    """Whether a name is only a nationality or creed describing the next word ("American
    citizens", "German chancellor Olaf Scholz"): no person, organisation or place itself."""
    if span.text(sentence).lower() not in _DEMONYMS:
        return False
    following = sentence[span.end : span.end + 2]
    return following[:1] == " " and following[1:2].islower()


_DEMONYMS = frozenset(
    """american british english french german russian chinese japanese italian spanish
    indian canadian australian mexican brazilian korean ukrainian israeli palestinian
    iranian iraqi syrian turkish polish dutch swedish norwegian danish finnish swiss
    austrian belgian irish scottish welsh greek portuguese argentine argentinian chilean
    colombian egyptian saudi pakistani afghan nigerian kenyan european asian african
    western eastern soviet catholic protestant muslim christian jewish hindu buddhist""".split()
)


def _name_fit(sentence: str, start: int, end: int, kind: AnswerType) -> float:
    """How well a name fits the expected type: places follow "in", people do not."""
    place_cue = bool(_PLACE_CUE_RE.search(sentence[max(0, start - 14) : start]))
    if kind is AnswerType.PLACE:
        return 1.0 if place_cue else 0.6
    if kind in (AnswerType.PERSON, AnswerType.ORG):
        return 0.6 if place_cue else 1.0
    return 1.0


def _numeric_spans(sentence: str, analysis: QuestionAnalysis) -> list[tuple[Span, float]]:
    """Numbers for NUMBER questions, money and percentages first for AMOUNT ones."""
    found = []
    duration = analysis.head in ("long", "old", "often")
    for start, end, kind in _number_spans(sentence):
        if analysis.answer_type is AnswerType.AMOUNT:
            score = 1.0 if kind in ("money", "percent") else 0.6
        else:
            score = 0.6 if kind == "money" and analysis.head == "many" else 1.0
        found.append((Span(start, end, kind), score))
    if duration:
        found.extend((Span(a, b, "date"), 0.5) for a, b in _date_spans(sentence))
    return found


def _new_phrases(sentence: str, analysis: QuestionAnalysis) -> list[Span]:
    """Runs of content words the question does not have (for "what" questions of no kind)."""
    spans: list[Span] = []
    start = end = -1
    for token_start, token_end, token in _tokens(sentence):
        word = token.lower()
        new = word not in STOPWORDS and _stem(word) not in analysis.stems
        if new:
            start, end = (token_start if start < 0 else start), token_end
            continue
        if start >= 0:
            spans.append(Span(start, end, "phrase"))
        start = -1
    if start >= 0:
        spans.append(Span(start, end, "phrase"))
    return spans


def _in_question(text: str, analysis: QuestionAnalysis) -> bool:
    """Whether every word of a candidate is already in the question."""
    words = [_possessive(w.lower()) for w in _QUESTION_WORD_RE.findall(text)]
    content = [w for w in words if w not in STOPWORDS] or words
    return bool(content) and all(_asked(w, analysis) for w in content)


def _asked(word: str, analysis: QuestionAnalysis) -> bool:
    """Whether the question has the word or another form of it ("Aristotle", "Aristotelian")."""
    if word in analysis.words:
        return True
    return len(word) >= 5 and any(len(w) >= 5 and _same_stem(word, w) for w in analysis.words)


def _question_word_offsets(sentence: str, analysis: QuestionAnalysis) -> list[tuple[int, int]]:
    """The spans of the sentence's words whose stems are among the question's terms."""
    return [(a, b) for a, b, word in _tokens(sentence) if _stem(word) in analysis.stems]


def _before_verb(sentence: str, span: Span) -> bool:
    """Whether a verb follows the span within two words (the span is likely the subject)."""
    following = [w for a, _, w in _tokens(sentence) if a >= span.end][:3]
    for word in following:
        if word.islower() and _has_verb(["He", word]):
            return True
        if word.lower() not in _SUBJECT_FILLERS:
            return False
    return False


_SUBJECT_FILLERS = frozenset("also then has have had who which reportedly finally".split())


def _counts_fit(sentence: str, span: Span, analysis: QuestionAnalysis) -> float:
    """For "how many X": a number followed by X (or by a word reporting the asked event,
    "140 deaths") is raised; one followed by a unit of time ("two weeks") is lowered, unless
    time is what is counted."""
    if not analysis.counted:
        return 0.0
    following = re.findall(r"[^\W_]+", sentence[span.end : span.end + 40].lower())[:3]
    reporting = set().union(*analysis.events) if analysis.events else set()
    if any(_stem(w) == analysis.counted or w in reporting for w in following):
        return 0.4
    if following and following[0] in _TIME_UNITS and analysis.counted not in _TIME_UNIT_STEMS:
        return -0.4
    return 0.0


_TIME_UNITS = frozenset(
    "second seconds minute minutes hour hours day days week weeks month months year years"
    " decade decades century centuries".split()
)
_TIME_UNIT_STEMS = frozenset(
    {"second", "minut", "hour", "day", "week", "month", "year", "decad", "centuri"}
)


def _proximity(span: Span, anchors: list[tuple[int, int]]) -> float:
    """A bonus (0..0.5) for candidates near the question's words in the sentence."""
    gaps = [
        a - span.end if a >= span.end else span.start - b
        for a, b in anchors
        if not (span.start <= a < span.end)
    ]
    if not gaps:
        return 0.0
    return 0.5 / (1.0 + max(min(gaps), 0) / 20.0)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """The stemmed term of one word, or "" for a stop word; irregular past forms as their verb."""
    lower = word.lower()
    found = terms(_IRREGULAR_PAST.get(lower, lower))
    return found[0] if found else ""


_IRREGULAR_PAST = {
    "won": "win",
    "beat": "beat",
    "took": "take",
    "taken": "take",
    "made": "make",
    "gave": "give",
    "given": "give",
    "went": "go",
    "gone": "go",
    "came": "come",
    "saw": "see",
    "seen": "see",
    "became": "become",
    "began": "begin",
    "begun": "begin",
    "held": "hold",
    "left": "leave",
    "lost": "lose",
    "ran": "run",
    "paid": "pay",
    "rose": "rise",
    "risen": "rise",
    "fell": "fall",
    "fallen": "fall",
    "grew": "grow",
    "grown": "grow",
    "led": "lead",
    "met": "meet",
    "sold": "sell",
    "bought": "buy",
    "built": "build",
    "brought": "bring",
    "kept": "keep",
    "found": "find",
    "knew": "know",
    "known": "know",
    "thought": "think",
    "spent": "spend",
    "sent": "send",
    "struck": "strike",
    "wrote": "write",
    "written": "write",
    "chose": "choose",
    "chosen": "choose",
    "drove": "drive",
    "driven": "drive",
    "flew": "fly",
    "told": "tell",
    "said": "say",
    "got": "get",
    "hit": "hit",
}


# ---------------------------------------------------------------------------------------------
# Constraints
# ---------------------------------------------------------------------------------------------

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


@lru_cache(maxsize=4096)
def _numbers(text: str) -> frozenset[str]:
    """The numbers of a text as digit strings, without thousands separators; small numbers
    written as words count too ("four primes" meets "4 primes")."""
    digits = {n.replace(",", "") for n in _DIGITS_RE.findall(text)}
    return frozenset(digits | {_WORD_VALUES[w] for w in _words(text) if w in _WORD_VALUES})


@lru_cache(maxsize=4096)
def _ordinals_in(text: str) -> frozenset[int]:
    """The ordinals of a text, in digits ("51st") or words ("third")."""
    found = {int(n) for n in _DIGIT_ORDINAL_RE.findall(text)}
    return frozenset(found | {_ORDINAL_WORDS[w] for w in _words(text) if w in _ORDINAL_WORDS})


@lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    """The lower-cased words of a text, possessives removed, accents folded ("Temür" is
    "temur")."""
    return frozenset(_fold(_possessive(w.lower())) for w in _QUESTION_WORD_RE.findall(text))


_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe"})


@lru_cache(maxsize=16384)
def _fold(word: str) -> str:
    """The word without accents ("bolesław" → "boleslaw")."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word.translate(_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def _prefixes(text: str) -> dict[str, tuple[str, ...]]:
    """The text's words of four letters or more, grouped by their first four letters."""
    groups: dict[str, list[str]] = {}
    for word in _words(text):
        if len(word) >= 4:
            groups.setdefault(word[:4], []).append(word)
    return {prefix: tuple(found) for prefix, found in groups.items()}


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


def constraints_hold(analysis: QuestionAnalysis, sentence: str, context: str = "") -> bool:
    """Whether every constraint of the question is met by the sentence or its context."""
    return dates_hold(sentence, analysis, context) and names_hold(sentence, analysis, context)


def dates_hold(sentence: str, analysis: QuestionAnalysis, context: str = "") -> bool:
    """Whether the years, quarters, dates and months the question asks about are those of
    the sentence or its context.

    `context` is the passage, its title and the document's date (see `context_of`). A year,
    quarter, date or month the sentence itself states overrides the context.
    """
    if not (analysis.years or analysis.quarters or analysis.dates or analysis.months):
        return True
    mine, around = _time(sentence), _time(context)
    if _dated_by_publication(analysis, sentence, mine):
        mine = _published(sentence, context) or mine
    relative = _relative_years(sentence, context)
    asked = _time(analysis.question)
    return (
        all(_year_holds(y, asked, mine, around, relative) for y in analysis.years)
        and all(_quarter_holds(q, mine, around) for q in analysis.quarters)
        and all(_date_holds(d, mine, around) for d in analysis.dates)
        and all(_month_holds(m, mine, around) for m in analysis.months)
    )


def names_hold(sentence: str, analysis: QuestionAnalysis, context: str = "") -> bool:
    """Whether the numbers, ordinals and names the question states are in the sentence or its
    context, and the sentence names no other number of a numbered name ("Pixel 9")."""
    return (
        all(n in _numbers(sentence) or n in _numbers(context) for n in analysis.numbers)
        and all(
            o in _ordinals_in(sentence) or o in _ordinals_in(context) for o in analysis.ordinals
        )
        and _names_hold(analysis.names, sentence, context)
        and not _other_model(analysis.question, sentence)
    )


_MODEL_RE = re.compile(r"\b([A-Z][A-Za-z]+)\s?(\d{1,3})\b(?![.,:]\d)")


def _other_model(question: str, sentence: str) -> bool:
    """Whether the sentence speaks of another number of a name the question numbers: "Pixel
    9" for "Pixel 8", "Super Bowl 57" for "Super Bowl 50", "COP27" for "COP28"."""
    asked = {(m.group(1), m.group(2)) for m in _MODEL_RE.finditer(question)}
    if not asked:
        return False
    said = [(m.group(1), m.group(2)) for m in _MODEL_RE.finditer(sentence)]
    return any(
        (name, n) not in said and any(other == name for other, _ in said) for name, n in asked
    )


_PUBLICATION_DAY_RE = re.compile(
    r"\b(?:on\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
    r"|yesterday|today|tonight|this\s+week|last\s+week)\b"
)


def _dated_by_publication(analysis: QuestionAnalysis, sentence: str, mine: _Time) -> bool:
    """Whether the document's date dates the sentence: it states no year, month or date of
    its own, and the question asks for a month, or for a year but not for a period's results
    (a January report of "annual revenue" is about the year before)."""
    if mine.anchor_years or mine.anchor_months or mine.dates:
        return False
    if analysis.months:
        return True
    return bool(analysis.years) and not analysis.quarters and not _PERIOD_RE.search(sentence)


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


def _names_hold(names: tuple[str, ...], sentence: str, context: str) -> bool:
    """Every name of the question is in the sentence or its context; of two or more names,
    one may be missing (a question may name a thing in other words than its source)."""
    missing = sum(1 for name in names if not _name_holds(name, sentence, context))
    return missing == 0 or (missing == 1 and len(names) >= 2)


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
    year: int, asked: _Time, mine: _Time, around: _Time, relative: frozenset[int]
) -> bool:
    """The sentence states the year, or states no other year and the context has it.

    A year the question itself asks "since" or "between" is met by any mention of it.
    """
    if year in mine.anchor_years or year in relative:
        return True
    if mine.anchor_years or relative:
        return False
    if year not in asked.anchor_years and year in mine.all_years:
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


def _names_another(words: list[str], sentence: str) -> bool:
    """Whether the sentence names another thing than the question's name, using part of it:
    "the Nobel Peace Prize" for "the Booker Prize", "Vivienne Westwood" for "Westwood One".
    A bare part ("the Prize", "the Tour") may still mean the asked name."""
    missing = {w for w in words if not _word_in(w, sentence)}
    if not missing or len(missing) == len(words):
        return False
    present = set(words) - missing
    for start, end in _name_runs(sentence):
        for part in re.split(r"\s+(?:[a-z]+\s+)+", sentence[start:end]):  # "Booker for Bain"
            run = _words(part)
            others = run - present - _CONNECTORS
            if run & present and others and not any(_typo(o, m) for o in others for m in missing):
                return True
    return False


def _typo(a: str, b: str) -> bool:
    """Whether two words of four letters or more differ by one letter (a misspelt name)."""
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def names_missing(text: str, source: str) -> list[str]:
    """The names `text` mentions of which `source` has no word, nor the acronym or spelled-out
    form (accents and other forms of a word allowed: "Kerber's" is met by "Kerber",
    "Aristotelian" by "Aristotle", "the US" by "the United States")."""
    found = []
    for start, end in _names(text):
        name = text[start:end]
        words = [w for w in _words(name) if w not in _CONNECTORS]
        if not words or any(_word_in(w, source) for w in words):
            continue
        if not _abbreviated_in(name, source):
            found.append(name)
    return found


def _name_holds(name: str, sentence: str, context: str) -> bool:
    """At least half of a name's words occur in the sentence or its context, or the name is
    there as an acronym or spelled out ("US" and "United States", "NYC" and "New York City")."""
    words = [_fold(_possessive(w.lower())) for w in _QUESTION_WORD_RE.findall(name)]
    words = [w for w in words if w not in _CONNECTORS] or words
    if _names_another(words, sentence):
        return False
    present = sum(1 for w in words if _word_in(w, sentence) or _word_in(w, context))
    if present * 2 >= len(words):
        return True
    return _abbreviated_in(name, f"{sentence}\n{context}")


def _abbreviated_in(name: str, text: str) -> bool:
    """Whether the text has the name as an acronym or spelled out ("US" / "United States")."""
    return _initials(name) in _acronyms(text) or _acronym(name) in _spelled_out(text)


_ACRONYM_RE = re.compile(r"\b[A-Z]{2,6}\b|\b(?:[A-Z]\.){2,6}")
# (The link word takes the spaces after it: `\s+(?:of)?\s*` would split a run of blanks n ways.)
_CAPITAL_RUN_RE = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:(?:of|the|and|for|de|&)\s*)?[A-Z][\w'’-]*)+")


def _acronym(name: str) -> str:
    """The name as an acronym, if it is one ("U.S." → "US"); else ""."""
    compact = name.replace(".", "").strip()
    return compact if 2 <= len(compact) <= 6 and compact.isupper() and compact.isalpha() else ""


def _initials(name: str) -> str:
    """The initials of a multi-word name's capitalised words ("New York City" → "NYC")."""
    capitals = [w[0] for w in name.split() if w[:1].isupper() and w.lower() not in _CONNECTORS]
    return "".join(capitals) if len(capitals) >= 2 else "\0"


@lru_cache(maxsize=4096)
def _acronyms(text: str) -> frozenset[str]:
    return frozenset(m.group().replace(".", "") for m in _ACRONYM_RE.finditer(text))


@lru_cache(maxsize=4096)
def _spelled_out(text: str) -> frozenset[str]:
    """The initials of every run of capitalised words in the text."""
    return frozenset(_initials(m.group()) for m in _CAPITAL_RUN_RE.finditer(text)) - {"\0"}


def _word_in(word: str, text: str) -> bool:
    """Whether the word, or a word it begins or that begins it ("Kenya", "Kenyan"), is there."""
    if word in _words(text):
        return True
    if len(word) < 4:
        return False
    return any(_same_stem(word, w) for w in _prefixes(text).get(word[:4], ()))


def _same_stem(a: str, b: str) -> bool:
    """Whether two words are forms of one word: one begins the other ("Kenya", "Kenyan"), or
    they share three quarters of the shorter and five letters ("Aristotle", "Aristotelian")."""
    if a.startswith(b) or b.startswith(a):
        return abs(len(a) - len(b)) <= 3
    shared = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return shared >= 5 and shared * 4 >= 3 * min(len(a), len(b))


# ---------------------------------------------------------------------------------------------
# Echoes
# ---------------------------------------------------------------------------------------------


def is_echo(sentence: str, question: str = "") -> bool:
    """Whether the sentence cannot answer anything: a question, headline, list title or plug."""
    text = sentence.strip()
    if not text or text.endswith("?"):
        return True
    if _BOILERPLATE_RE.match(text):
        return True
    tokens = _TOKEN.findall(text)
    if not tokens:
        return True
    if len(tokens) <= 20 and _title_like(tokens) and not _LABEL_VALUE_RE.search(text):
        return True
    if len(tokens) <= 10 and not _has_verb(tokens):
        return not _LABEL_VALUE_RE.search(text)
    return bool(question) and len(tokens) <= 12 and _only_question_words(text, question)


def _has_verb(tokens: list[str]) -> bool:
    """Whether a lower-case word looks like a verb (a common verb, -ed, or -s after a name)."""
    previous = ""
    for word in tokens:
        if word.islower():
            if word in _COMMON_VERBS or word in _AUXILIARIES:
                return True
            if len(word) > 4 and word.endswith("ed"):
                return True
            if (
                len(word) > 3
                and word.endswith("s")
                and not word.endswith("ss")
                and (previous[:1].isupper() or previous in ("he", "she", "it", "who", "that"))
                and not previous.isupper()
            ):
                return True
        previous = word
    return False


def _title_like(tokens: list[str]) -> bool:
    """Whether every word but the small ones is capitalised or a number, as in a title."""
    return all(t[0].isupper() or t[0].isdigit() for t in tokens if t.lower() not in STOPWORDS)


def _only_question_words(text: str, question: str) -> bool:
    """Whether the sentence's content terms are all in the question."""
    mine = set(terms(text))
    return bool(mine) and mine <= set(terms(question))


# ---------------------------------------------------------------------------------------------
# The verdict
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Contradictions: the sentence says the opposite of what the question asks about
# ---------------------------------------------------------------------------------------------

_NEGATION_RE = re.compile(
    r"\b(?:not|never|no|none|nor|neither|without|nobody|nothing)\b|n't\b", re.I
)
_OPPOSITES = (
    ("open", "closed"),
    ("opened", "closed"),
    ("success", "failure"),
    ("successful", "unsuccessful"),
    ("succeeded", "failed"),
    ("won", "lost"),
    ("win", "lose"),
    ("wins", "loses"),
    ("increase", "decrease"),
    ("increased", "decreased"),
    ("rose", "fell"),
    ("before", "after"),
    ("first", "last"),
    ("earliest", "latest"),
    ("largest", "smallest"),
    ("biggest", "smallest"),
    ("highest", "lowest"),
    ("longest", "shortest"),
    ("oldest", "youngest"),
    ("best", "worst"),
    ("most", "least"),
    ("more", "less"),
    ("major", "minor"),
    ("maximum", "minimum"),
    ("internal", "external"),
    ("inner", "outer"),
    ("upper", "lower"),
    ("positive", "negative"),
    ("public", "private"),
    ("legal", "illegal"),
    ("accepted", "rejected"),
    ("allowed", "banned"),
    ("import", "export"),
    ("imports", "exports"),
    ("bought", "sold"),
    ("buy", "sell"),
    ("gain", "loss"),
    ("profit", "loss"),
    ("include", "exclude"),
    ("included", "excluded"),
    ("permanent", "temporary"),
    ("direct", "indirect"),
    ("male", "female"),
    ("north", "south"),
    ("northern", "southern"),
    ("east", "west"),
    ("eastern", "western"),
    ("above", "below"),
    ("inside", "outside"),
    ("entered", "left"),
    ("start", "end"),
    ("began", "ended"),
    ("true", "false"),
    ("men's", "women's"),
    ("singles", "doubles"),
    ("men", "women"),
    ("boys", "girls"),
    ("boys'", "girls'"),
)
_OPPOSITE = {a: b for a, b in _OPPOSITES} | {b: a for a, b in _OPPOSITES}


# A question about what happened ("Who won …?", "What was …?") is not answered by a sentence
# about what is expected to happen: previews, forecasts and plans are not results.
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


def contradicts(sentence: str, question: str) -> bool:
    """Whether the sentence speaks of the opposite of what the question asks: the question is
    negated ("Who did not …?") and the sentence is not, or the question has a word ("largest",
    "failed") whose opposite the sentence has instead ("smallest", "succeeded")."""
    if _negated(question) and not _NEGATION_RE.search(sentence):
        return True
    asked = _lower_words(question)
    said = _lower_words(sentence)
    return any(word in _OPPOSITE and _OPPOSITE[word] in said and word not in said for word in asked)


def _negated(question: str) -> bool:
    """Whether the question's main clause is negated: "Who did not …?", not "What did they
    face that they had not faced before?" (a negation in a relative clause describes the
    answer rather than denying it)."""
    negation = _NEGATION_RE.search(question)
    if negation is None:
        return False
    before = question[: negation.start()]
    wh = _WH_RE.search(before)
    return not _CLAUSE_RE.search(before, wh.end() if wh else 0)


_CLAUSE_RE = re.compile(
    r"\b(?:that|which|who|whom|whose|where|when|because|although|though|while|if|since)\b",
    re.I,
)


def _lower_words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _TOKEN.findall(text))


def periods(text: str) -> list[str]:
    """The quarters and years a text is about, in words ("Q1 2022", "2019"), in order."""
    found: list[str] = []
    quarters = _quarters(text)
    for quarter, year in sorted(quarters, key=lambda q: (q[1] or 0, q[0])):
        found.append(f"Q{quarter} {year}" if year else f"Q{quarter}")
    quarter_years = {year for _, year in quarters if year}
    found += [str(year) for year in sorted(_years(text) - quarter_years)]
    return found


def asked_periods(analysis: QuestionAnalysis) -> list[str]:
    """The periods the question asks about, in words: "Q1 2021", "October 2022", "2018"."""
    if analysis.months and len(analysis.years) == 1:
        year = analysis.years[0]
        return [f"{calendar.month_name[m]} {year}" for m in analysis.months]
    return periods(analysis.question)


def periods_about(
    sentence: str, title: str, published: datetime.date | None, analysis: QuestionAnalysis
) -> list[str]:
    """The periods a sentence is about, in the question's terms (quarters for a question about
    a quarter, months for one about a month, else years): its own, not those after "since";
    else its title's; else, for news dated only "on Friday", its document's date."""
    mine = _time(sentence)
    if analysis.quarters:
        quarters = mine.anchor_quarters or _time(title).anchor_quarters
        if published:  # "the first quarter" in a report of April 2023 is Q1 2023
            quarters = frozenset((q, y or _reported_year(q, published)) for q, y in quarters)
        return [f"Q{q} {y}" if y else f"Q{q}" for q, y in sorted(quarters, key=_quarter_order)]
    headline = _time(title)
    dated_that_day = published if _PUBLICATION_DAY_RE.search(sentence) else None
    years = mine.anchor_years or headline.anchor_years
    if not years and dated_that_day:
        years = frozenset({dated_that_day.year})
    if analysis.months and len(years) == 1:
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


def near_miss(sentence: str, analysis: QuestionAnalysis) -> bool:
    """Whether the sentence would answer the question but for its constraints: right kind of
    answer, not an echo or a contradiction, only about another time or thing."""
    if is_echo(sentence, analysis.question) or contradicts(sentence, analysis.question):
        return False
    if analysis.answer_type is AnswerType.SUPPORT:
        return True
    return bool(candidates(sentence, analysis))


def fit(sentence: str, analysis: QuestionAnalysis, context: str = "") -> bool:
    """Whether the sentence may stand in an answer at all: not an echo, no contradiction or
    speculation, and the question's constraints hold."""
    question = analysis.question
    return not (
        is_echo(sentence, question)
        or contradicts(sentence, question)
        or speculates(sentence, question)
        or not constraints_hold(analysis, sentence, context)
    )


def reports_events(sentence: str, analysis: QuestionAnalysis) -> bool:
    """Whether the sentence reports each event the question asks about (see `_EVENTS`)."""
    if not analysis.events:
        return True
    said = _words(_TITLE_HOLDER_RE.sub(" ", sentence))
    return all(said & words for words in analysis.events)


# "the defending champion Muguruza", "seven-time champion Serena Williams", "a former winner":
# titles people hold from earlier wins, not a report of the win asked about.
_TITLE_HOLDER_RE = re.compile(
    r"\b(?:defending|former|reigning|previous|past|last\s+year's|[\w]+-time|two|three|four"
    r"|five|six|seven|eight|nine|ten)\s+(?:\w+\s+)?(?:champions?|winners?|title[\s-]holders?)\b",
    re.I,
)


def answers(sentence: str, analysis: QuestionAnalysis, context: str = "") -> Span | None:
    """The best answer span if the sentence answers the question, else None: it must `fit`,
    and then carry an `answer_span`."""
    return answer_span(sentence, analysis) if fit(sentence, analysis, context) else None


def answer_span(sentence: str, analysis: QuestionAnalysis) -> Span | None:
    """The best answer span of a sentence that fits (see `fit`), or None when it does not
    report the asked event or carries no candidate of the asked type. A SUPPORT question
    (yes/no, why, how) is answered by the whole sentence."""
    if not reports_events(sentence, analysis):
        return None
    if analysis.answer_type is AnswerType.SUPPORT:
        return Span(0, len(sentence), "support")
    found = candidates(sentence, analysis)
    return found[0] if found else None


Check = Callable[[str, QuestionAnalysis, str], bool]

# The checks a sentence the reader takes may have to pass as well (sentence, question as
# read, context) → passes; `Weighing.checks` names those applied.
CHECKS: dict[str, Check] = {
    "dates": dates_hold,
    "names": names_hold,
    "echo": lambda sentence, analysis, _: not is_echo(sentence, analysis.question),
    "forecast": lambda sentence, analysis, _: not speculates(sentence, analysis.question),
    "opposite": lambda sentence, analysis, _: not contradicts(sentence, analysis.question),
    "events": lambda sentence, analysis, _: reports_events(sentence, analysis),
}
