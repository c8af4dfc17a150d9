"""Names in a text that its source does not have: the citation check's test that an LLM's
sentence names nobody its cited passage does not (`names_missing`).

A name is a run of capitalised words that is not a sentence's first common word; it is met by
its source when the source has one of its words in some form ("Kerber's" / "Kerber",
"Aristotelian" / "Aristotle", accents folded), or the name as an acronym or spelled out
("the US" / "the United States").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from retrieval.text import MONTHS, STOPWORDS

WEEKDAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs "
    "fri sat sun".split()
)


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


_TOKEN = re.compile(r"[^\W_]+(?:(?:[-.&]|['’](?=[A-Z]))[^\W_]+)*")


_QUESTION_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def _possessive(word: str) -> str:
    """The word without a possessive ending."""
    return word[:-2] if word.endswith(("'s", "’s")) else word


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


def _names(sentence: str) -> list[tuple[int, int]]:
    """Name spans, with leading articles and a trailing possessive left out."""
    spans = []
    for start, end in _name_runs(sentence):
        text = sentence[start:end]
        if text.endswith(("'s", "’s")):
            end -= 2
        spans.append((start, end))
    return spans


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


def _abbreviated_in(name: str, text: str) -> bool:
    """Whether the text has the name as an acronym or spelled out ("US" / "United States")."""
    return _initials(name) in _acronyms(text) or _acronym(name) in _spelled_out(text)


_ACRONYM_RE = re.compile(r"\b[A-Z]{2,6}\b|\b(?:[A-Z]\.){2,6}")


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
