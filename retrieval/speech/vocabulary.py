"""The archive's own vocabulary, to prime the transcription of a spoken question: the names
its documents use (people, places, organisations, events: "Crocus City Hall", "Sergei
Naryshkin", "ISIS-K"), the most widespread first, within the room Whisper gives a prompt.

A name is a run of capitalised words (joined by "of", "de", "von"… inside it), taken from
titles and passages. A single capitalised word counts only where it does not start a
sentence (there every word is capitalised); a leading article or pronoun is dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from retrieval.text import MONTHS, STOPWORDS

# Whisper reads at most 223 tokens of prompt; names average about 3 tokens and 10 characters.
# 600 characters leave room and keep the decoder's work small.
MAX_CHARS = 600

_WORD = r"[A-Z][\w'’]*(?:-[\w'’]+)*"
_JOINER = r"(?:of|the|de|del|der|da|di|du|la|le|van|von|al|bin|ibn)"
_RUN = re.compile(rf"(?<![\w'’-]){_WORD}(?:[ ](?:{_JOINER}[ ])?{_WORD})*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;…]['\"”’»)\]]*\s+|\n\s*|[\"“‘«(]\s*)$")
_POSSESSIVE = re.compile(r"['’]s?$")

_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_COMMON = STOPWORDS | frozenset(MONTHS) | _WEEKDAYS | frozenset({"i", "mr", "mrs", "ms", "dr"})


def names_in(text: str) -> list[str]:
    """The names in a text, in order of appearance (repeats included)."""
    found: list[str] = []
    for match in _RUN.finditer(text):
        words = _POSSESSIVE.sub("", match.group()).split(" ")
        while words and words[0].lower() in _COMMON:
            words.pop(0)  # "The United States" → "United States"; "But Moscow" → "Moscow"
        while words and words[-1].lower() in _COMMON:
            words.pop()
        if not words:
            continue
        if len(words) == 1:
            starts_sentence = bool(_SENTENCE_START.search(text, 0, match.start()))
            if words[0] == match.group() and starts_sentence:
                continue
            if len(words[0]) < 2:
                continue
        found.append(" ".join(words))
    return found


@dataclass(frozen=True)
class Vocabulary:
    """What an archive calls things: the names to prime the transcription with (the most
    widespread, within the prompt's room), and every word its names are made of (how a
    transcript's capitals are checked: `true_case`)."""

    names: tuple[str, ...] = ()
    words: frozenset[str] = field(default_factory=frozenset)


def vocabulary(texts: Iterable[tuple[str, str]], max_chars: int = MAX_CHARS) -> Vocabulary:
    """The vocabulary of (document id, text) pairs: the names found in the most documents
    first (then the most often), each once, skipping those inside a name already taken, until
    `max_chars` of them (joined by ", ") are used; and the words of all of its names. (The
    archive's years were tried too, before the names: no better answers, a worse error rate.)"""
    documents: Counter[str] = Counter()
    mentions: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    pairs: set[tuple[str, str]] = set()
    for document_id, text in texts:
        for name in names_in(text):
            mentions[name] += 1
            first_seen.setdefault(name, len(first_seen))
            if (name, document_id) not in pairs:
                pairs.add((name, document_id))
                documents[name] += 1
    ranked = sorted(mentions, key=lambda n: (-documents[n], -mentions[n], first_seen[n]))
    chosen: list[str] = []
    used = 0
    for name in ranked:
        if any(_contains(other, name) for other in chosen):
            continue
        cost = len(name) + (2 if chosen else 0)
        if used + cost > max_chars:
            continue
        chosen.append(name)
        used += cost
    words = frozenset(word for name in mentions for word in name.split(" "))
    return Vocabulary(tuple(chosen), words)


_TOKEN = re.compile(r"[A-Za-z][\w'’]*(?:-[\w'’]+)*")


def true_case(text: str, words: frozenset[str]) -> str:
    """A transcript with the capitals Whisper adds ("the 2022 World Cup Final", "Men's
    Singles") taken off the words the archive never capitalises, so that the question reads
    as typed (capitalised words are names to the answer's checks). The first word, acronyms
    ("FIFA") and the archive's own capitalised words keep theirs."""

    def fix(match: re.Match[str]) -> str:
        word = match.group()
        if match.start() == 0 or not word[0].isupper() or word.isupper():
            return word
        if re.match(r"I['’]", word):  # I'll, I'm, I've
            return word
        if _SENTENCE_START.search(text, 0, match.start()):
            return word
        if word in words or _POSSESSIVE.sub("", word) in words:
            return word
        return word[0].lower() + word[1:]

    return _TOKEN.sub(fix, text)


def _contains(longer: str, name: str) -> bool:
    return longer != name and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", longer) is not None
