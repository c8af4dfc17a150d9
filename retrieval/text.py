"""Text utilities shared by chunking, lexical search and answering: sentences and terms."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator
from functools import lru_cache

import Stemmer

_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st sr jr vs etc inc ltd co corp gen col lt sgt gov sen rep rev
    fig no nos vol pp ed eds al approx dept est jan feb mar apr jun jul aug sep sept oct nov dec
    mt ft u.s u.k u.n e.g i.e a.m p.m""".split()
)
# End punctuation, optional closing quotes/brackets, then white space.
# A run is only tried from its first mark: tried from each, a long run of "!" costs n².
_BOUNDARY = re.compile(r"(?<![.!?…])[.!?…]+[\"'”’»)\]]*(?=\s)")
_WORD = re.compile(r"\w+", re.UNICODE)
_ATX_HEADING = re.compile(r"#{1,6}[ \t]")

# Month names and their usual abbreviations → month number (dates in questions and passages).
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t don shall may might must also""".split()
)


def markdown_heading(line: str) -> str | None:
    """The text of a markdown heading line (`## Budget passes ##` → `Budget passes`), or None
    if the line is not one. No backtracking pattern: hostile lines cost linear time."""
    if not _ATX_HEADING.match(line):
        return None
    text = line.lstrip("#").strip()
    bare = text.rstrip("#")
    if bare != text and (not bare or bare[-1] in " \t"):  # a closing run of #, not `C#`
        text = bare.rstrip()
    return text


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences in text[start:end], stripped of surrounding space.

    Lines are sentence boundaries too; abbreviations ("U.S.", "Mr.") and initials are not.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line_start, line_end in _line_spans(text, start, end):
        cut = line_start
        for match in _BOUNDARY.finditer(text, line_start, line_end):
            if _is_abbreviation(text, line_start, match.start()):
                continue
            following = text[match.end() : match.end() + 3].lstrip()
            if following and not (
                following[0].isupper() or following[0].isdigit() or following[0] in "\"'“‘«(["
            ):
                continue
            spans.append((cut, match.end()))
            cut = match.end()
        spans.append((cut, line_end))
    return [s for s in (_strip(text, a, b) for a, b in spans) if s[1] > s[0]]


def sentences(text: str) -> list[str]:
    """The sentences of text, as strings."""
    return [text[a:b] for a, b in sentence_spans(text)]


def _line_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    pos = start
    while pos < end:
        newline = text.find("\n", pos, end)
        if newline == -1:
            yield pos, end
            return
        yield pos, newline
        pos = newline + 1


def _is_abbreviation(text: str, line_start: int, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word_start = dot
    while word_start > line_start and (
        text[word_start - 1].isalnum() or text[word_start - 1] == "."
    ):
        word_start -= 1
    word = text[word_start:dot].lower()
    if not word:
        return False
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed word terms without stop words: the vocabulary of lexical search."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    return _stemmer().stemWords(words)


def words(text: str) -> list[str]:
    """Lower-cased words, stop words included."""
    return _WORD.findall(text.lower())


def weighted_overlap(
    wanted: Iterable[str], present: Collection[str], weight: Callable[[str], float]
) -> float:
    """Weighted share of the distinct `wanted` terms found in `present` (0..1): with IDF as
    the weight, how much of a question's (or a sentence's) meaning a text covers."""
    distinct = set(wanted)
    total = sum(weight(t) for t in distinct)
    if total <= 0:
        return 0.0
    return sum(weight(t) for t in distinct if t in present) / total


_FOOTNOTE = re.compile(r"\[(\d{1,4})\]")


def neutralise_footnotes(text: str) -> str:
    """Bracketed numbers in a document ("[3]", "[2][5]") as "(3)", "(2)(5)": in what citebot
    shows, every `[n]` is one of its own citations, and a document cannot plant one. The text
    keeps its length, so offsets into it stay valid."""
    return _FOOTNOTE.sub(r"(\1)", text)
