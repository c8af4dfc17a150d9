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


def vocabulary(texts: Iterable[tuple[str, str]], max_chars: int = MAX_CHARS) -> tuple[str, ...]:
    """The names to prime with, from (document id, text) pairs: the names found in the most
    documents first (then the most often), each once, skipping those inside a name already
    taken, until `max_chars` of them (joined by ", ") are used."""
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
    return tuple(chosen)


def _contains(longer: str, name: str) -> bool:
    return longer != name and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", longer) is not None
