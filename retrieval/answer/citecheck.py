"""Checking an LLM's answer against the passages it was given: citations are verified in
code, never trusted.

A sentence of the answer survives only if
- it cites at least one passage, by a number that was given (`[9]` of five passages is removed);
- it shares real content with each passage it keeps citing: the IDF-weighted share of its
  content terms found in the passage reaches `SUPPORT_FLOOR` (measured on SQuAD by
  `benchmarks/citation_floor.py`); citations below the floor are removed. A sentence that
  joins facts from several passages ("… [1] and … [2].") is kept when the cited passages
  together reach the floor and each of them reaches half of it;
- every number or code in it occurs in a passage it cites, or in the question;
- every name in it (a capitalised word or run: "Naomi Osaka") has a word in a passage it
  cites, or in the question: a fluent sentence with one invented name is dropped;
- every link in it is the address of a cited source, or is quoted in a cited passage;
- it repeats nothing that the passages say only inside instruction-like text (a prompt
  injection: "ignore your instructions…", a fake system prompt).

Passages are prepared here too: sentences that read like instructions to an AI are cut out
of what the model sees and of what can be quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from retrieval.answer.names import names_missing
from retrieval.text import sentence_spans, terms, weighted_overlap
from retrieval.types import Hit

IdfFn = Callable[[str], float]

# IDF-weighted share of a sentence's content terms that must occur in a passage it cites.
# Chosen from benchmarks/citation_floor.py on SQuAD dev (see the README's LLM section).
# At 0.35: faithful sentences kept 99.3% (qa), 100% (para), 97.7% (reworded); citations of
# the wrong paragraph of the same article rejected 96.5%, of another article 100%.
SUPPORT_FLOOR = 0.35

REMOVED = "(…)"

# One or more passage numbers in brackets: [1], [1, 3], [1][2], [Passage 2].
_MARKER = re.compile(
    r"\[\s*(?:passages?\s*)?(\d{1,3}(?:\s*[,;]\s*(?:passages?\s*)?\d{1,3})*)\s*\]", re.I
)
_NUMBER = re.compile(r"\d+")
_LINK = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'()\[\]]+"  # http(s) and www links
    r"|(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses (from a word's start)
    # bare domains: labels of at most 63 characters, at most 126 of them (253 in all), so a
    # run like "a.a.a.…" is not tried again from each of its labels to its end
    r"|\b(?:[a-z0-9-]{1,63}\.){1,126}[a-z]{2,24}\b(?:/[^\s<>\"'()\[\]]*)?",
    re.I,
)
_SPECIFIC = re.compile(r"\b\w*\d\w*\b")  # numbers, dates, codes: anything with a digit
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•·]+|\d{1,2}[.)](?=\s)|#+)\s*")
_MARKUP = re.compile(r"\*\*|__|`+")

# Text addressed to an AI rather than to a reader of the archive.
_INSTRUCTION = re.compile(
    "|".join(
        (
            r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,60}"
            r"\b(?:instructions?|prompts?|rules|guidelines|directives|guardrails)\b",
            r"\b(?:system|developer|hidden)\s+(?:prompt|message|instructions?)\b",
            r"(?:^|\n)[^\S\n]*(?:system|assistant|developer)\s*:",
            r"<\|?\s*/?\s*(?:im_start|im_end|system|assistant|user|endoftext)\s*\|?>",
            r"\[/?INST\]|<</?SYS>>",
            r"(?<!#)#{2,}\s*(?:system|instructions?)\b",
            r"\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:ai|assistant|language\s+model|chatbot|llm)\b",
            r"\b(?:new|updated|real|secret)\s+instructions?\b",
            r"\b(?:repeat|print|output|reveal|include|say|write)\s+(?:the|this|that|these|"
            r"following|secret|exactly|verbatim)\b[^.!?\n]{0,30}"
            r"\b(?:code|token|phrase|string|password|secret|canary|words?)\b",
            r"\bin\s+(?:every|each|all|your)\s+(?:answers?|responses?|replies|outputs?)\b",
            r"\b(?:as\s+an\s+ai|jailbreak|do\s+anything\s+now)\b",
        )
    ),
    re.I,
)


def looks_like_instructions(text: str) -> bool:
    """True if text reads as instructions to an AI model (prompt injection), not as content."""
    return _INSTRUCTION.search(text) is not None


@dataclass(frozen=True)
class Passage:
    """A hit as the model sees it: its number and its text without instruction-like sentences."""

    n: int
    hit: Hit
    sentences: tuple[str, ...]  # verbatim sentences of the chunk that may be quoted
    removed: tuple[str, ...]  # sentences that read like instructions to an AI
    text: str  # the chunk's text with the removed sentences replaced by REMOVED

    @property
    def header(self) -> str:
        chunk = self.hit.chunk
        parts = [chunk.title, chunk.heading or "", chunk.date.isoformat() if chunk.date else ""]
        return " ".join(p for p in parts if p)


def make_passage(n: int, hit: Hit) -> Passage:
    """Split a hit's text into quotable sentences and cut out instruction-like ones."""
    text = hit.chunk.text
    kept: list[str] = []
    removed: list[str] = []
    shown: list[str] = []
    cursor = 0
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        shown.append(text[cursor:start])
        if looks_like_instructions(sentence):
            removed.append(sentence)
            shown.append(REMOVED)
        else:
            kept.append(sentence)
            shown.append(sentence)
        cursor = end
    shown.append(text[cursor:])
    return Passage(n, hit, tuple(kept), tuple(removed), "".join(shown).strip())


def support(sentence_terms: Iterable[str], passage_terms: set[str], idf: IdfFn) -> float:
    """IDF-weighted share of the sentence's distinct content terms found in the passage (0..1)."""
    return weighted_overlap(sentence_terms, passage_terms, idf)


def split_markers(raw: str) -> tuple[str, list[int]]:
    """The sentence without its `[n]` markers and list markup, and the numbers it cites."""
    numbers = [int(n) for match in _MARKER.finditer(raw) for n in _NUMBER.findall(match[1])]
    text = _MARKER.sub(" ", raw)
    text = _MARKUP.sub("", _LIST_PREFIX.sub("", text))
    text = " ".join(text.split())
    text = re.sub(r" ([.,;:!?…])", r"\1", text)  # white space is single spaces by now
    return text, numbers


def links(text: str) -> list[str]:
    """Web addresses, bare domains and e-mail addresses in text."""
    return [m.rstrip(".,;:!?") for m in _LINK.findall(text)]


def _host(link: str) -> str:
    link = link.lower().split("@")[-1]
    link = re.sub(r"^(?:https?://)?(?:www\.)?", "", link)
    return link.split("/")[0].split(":")[0]


def _specifics(text: str) -> set[str]:
    """Numbers and codes in text, normalised ("07" → "7")."""
    return {tok.lower().lstrip("0") or "0" for tok in _SPECIFIC.findall(text)}


@dataclass(frozen=True)
class Verdict:
    """What the checker made of one sentence of the model's answer."""

    sentence: str  # without markers
    cited: tuple[int, ...] = ()  # passage numbers that support it, in the order cited
    quotes: tuple[tuple[int, str], ...] = ()  # (passage n, its sentence that best supports it)
    reason: str = ""  # why it was dropped; empty when kept
    claim: bool = True  # False for sentences without content terms ("Yes.")
    unknown: tuple[int, ...] = ()  # cited numbers that were never given

    @property
    def kept(self) -> bool:
        return bool(self.cited) and not self.reason


class CitationChecker:
    """Checks the sentences of an answer to `question` against the numbered passages."""

    def __init__(
        self,
        question: str,
        passages: Sequence[Passage],
        idf: IdfFn,
        floor: float = SUPPORT_FLOOR,
    ) -> None:
        self.floor = floor
        self._idf = idf
        self._passages = {p.n: p for p in passages}
        self._question_terms = set(terms(question))
        self._question_specifics = _specifics(question)
        self._terms = {p.n: set(terms(" ".join((p.header, *p.sentences)))) for p in passages}
        self._sentence_terms = {p.n: [(s, set(terms(s))) for s in p.sentences] for p in passages}
        clean_text = {p.n: " ".join((p.header, p.hit.chunk.source, *p.sentences)) for p in passages}
        self._question = question
        self._clean_text = clean_text
        self._specifics = {n: _specifics(text) for n, text in clean_text.items()}
        self._links = {n: {link.lower() for link in links(text)} for n, text in clean_text.items()}
        self._hosts = {p.n: _host(p.hit.chunk.url) for p in passages if p.hit.chunk.url}
        clean_terms: set[str] = set().union(*self._terms.values()) if passages else set()
        injected = {t for p in passages for s in p.removed for t in terms(s)}
        self._injected_terms = injected - clean_terms - self._question_terms

    def check(self, raw: str) -> Verdict:
        text, numbers = split_markers(raw)
        content = terms(text)
        if not content:
            return Verdict(text, reason="no content", claim=False)
        cited = list(dict.fromkeys(numbers))
        unknown = tuple(n for n in cited if n not in self._passages)
        given = [n for n in cited if n in self._passages]
        if not cited:
            return Verdict(text, reason="no citation")
        if not given:
            return Verdict(
                text, reason=f"cites passages never given {list(unknown)}", unknown=unknown
            )

        for link in links(text):
            if not self._link_allowed(link, given):
                return Verdict(
                    text, reason=f"links to {link!r}, not a cited source", unknown=unknown
                )

        injected = self._injected_terms.intersection(content)
        if injected:
            return Verdict(
                text,
                reason=f"repeats instruction-like text {sorted(injected)[:3]}",
                unknown=unknown,
            )

        scores = {n: support(content, self._terms[n], self._idf) for n in given}
        supported = tuple(n for n in given if scores[n] >= self.floor)
        if not supported:
            partial = [n for n in given if scores[n] >= self.floor / 2]
            together = set().union(*(self._terms[n] for n in partial)) if partial else set()
            if len(partial) > 1 and support(content, together, self._idf) >= self.floor:
                supported = tuple(partial)
        if not supported:
            best = max(scores.values())
            return Verdict(
                text,
                reason=f"not supported by {given} (support {best:.2f} < {self.floor:.2f})",
                unknown=unknown,
            )

        known = set(self._question_specifics).union(*(self._specifics[n] for n in supported))
        missing = sorted(_specifics(text) - known)
        if missing:
            return Verdict(
                text, reason=f"{missing[0]!r} is not in the cited passages", unknown=unknown
            )

        cited_text = "\n".join((self._question, *(self._clean_text[n] for n in supported)))
        strangers = names_missing(text, cited_text)
        if strangers:
            return Verdict(
                text, reason=f"{strangers[0]!r} is not in the cited passages", unknown=unknown
            )

        quotes = tuple((n, self._best_sentence(n, content)) for n in supported)
        return Verdict(text, cited=supported, quotes=quotes, unknown=unknown)

    def _link_allowed(self, link: str, cited: Sequence[int]) -> bool:
        host = _host(link)
        return any(self._hosts.get(n) == host or link.lower() in self._links[n] for n in cited)

    def _best_sentence(self, n: int, content: list[str]) -> str:
        """The passage's sentence that shares the most (IDF-weighted) content with `content`."""
        wanted = set(content)
        candidates = self._sentence_terms[n]
        if not candidates:
            return self._passages[n].hit.chunk.text[:300]
        best = max(candidates, key=lambda item: sum(self._idf(t) for t in wanted & item[1]))
        return best[0]


class SentenceStream:
    """Cuts text that arrives in pieces into sentences, each with the markers that follow it.

    A sentence is released once the next one has begun, so that "… Russia. [1] The" gives
    "… Russia. [1]": markers written after the full stop still belong to their sentence.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._consumed = 0

    @property
    def text(self) -> str:
        return self._buffer

    def feed(self, piece: str) -> list[str]:
        self._buffer += piece
        return self._release(final=False)

    def finish(self) -> list[str]:
        return self._release(final=True)

    def _release(self, final: bool) -> list[str]:
        spans = _sentences_with_markers(self._buffer, self._consumed)
        if not final:
            spans = spans[:-1]
        if spans:
            self._consumed = spans[-1][1]
        return [self._buffer[a:b] for a, b in spans]


def split_sentences(text: str) -> list[str]:
    """The sentences of a complete answer, each with the markers that follow it."""
    return [text[a:b] for a, b in _sentences_with_markers(text, 0)]


def _sentences_with_markers(text: str, start: int) -> list[tuple[int, int]]:
    """Sentence spans from `start`, where leading markers and letterless scraps belong to the
    sentence before them."""
    merged: list[list[int]] = []
    for a, b in sentence_spans(text, start):
        lead = re.match(r"(?:\s*\[[^\]\n]{0,24}\])+", text[a:b])
        if lead and merged:
            merged[-1][1] = a + lead.end()
            a = a + lead.end()
            while a < b and text[a].isspace():
                a += 1
        if a >= b:
            continue
        if merged and not any(ch.isalpha() for ch in _MARKER.sub("", text[a:b])):
            merged[-1][1] = b
            continue
        merged.append([a, b])
    return [(a, b) for a, b in merged]
