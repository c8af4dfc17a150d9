"""Follow-up questions: "and when was that?" is read together with the chat's previous
question. With a language model the pair is rewritten into one standalone question (one short
call); without one, or if the model fails, the previous question's content words are joined
to the follow-up by rule (`merge_followup`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from retrieval.text import terms

log = logging.getLogger(__name__)

REWRITE_PROMPT = """\
Rewrite the follow-up question as one standalone question that can be understood without \
the earlier question, keeping its meaning and language. If it is already standalone, \
return it unchanged. Reply with the question only, on one line."""

MAX_FOLLOWUP_WORDS = 8  # a follow-up opening with "and", "what about"… is at most this long
MAX_REFERRING_WORDS = 5  # one that only refers back ("when was that?") is at most this long

_OPENERS = (
    "and",
    "but",
    "also",
    "so",
    "then",
    "what about",
    "how about",
    "what else",
    "anything else",
    "any more",
    "more on",
    "since when",
    "until when",
    "where exactly",
)
# Words that only make sense with something said before.
_REFERRING = frozenset(
    """it its it's that this those these they them their theirs he him his she her hers there
    then such same former latter""".split()
)
_BARE = frozenset("why when where who whom whose how which what really source sources".split())
_EXISTENTIAL = frozenset("is are was were".split())  # "is there …" refers to nothing
_WORD_RE = re.compile(r"[\w']+", re.UNICODE)


@dataclass(frozen=True)
class Resolved:
    """The question to search for, and the earlier question it follows up on, if any."""

    question: str
    topic: str  # what a later follow-up builds on: the original question, not the combination
    follow_up_of: str | None = None


def is_followup(text: str) -> bool:
    """Whether a message reads as a continuation rather than a question of its own."""
    words = _WORD_RE.findall(text.lower())
    if not words or len(words) > MAX_FOLLOWUP_WORDS:
        return False
    lowered = " ".join(words)
    if any(lowered == o or lowered.startswith(o + " ") for o in _OPENERS):
        return True
    if len(words) <= 2 and words[0] in _BARE:
        return True  # "why?", "when exactly?"
    if len(words) > MAX_REFERRING_WORDS:
        return False
    return any(
        w in _REFERRING and not (w == "there" and i and words[i - 1] in _EXISTENTIAL)
        for i, w in enumerate(words)
    )


def resolve(text: str, previous: str | None, max_chars: int | None = None) -> Resolved:
    """The question to ask the archive for `text`, given the chat's previous question."""
    text = " ".join(text.split())
    if not previous or not is_followup(text):
        return Resolved(text, text)
    combined = f"{previous} {text}"
    if max_chars is not None and len(combined) > max_chars:
        return Resolved(text, text)
    return Resolved(combined, previous, follow_up_of=previous)


def rewrite_followup(model: Any, previous_question: str, followup: str, max_chars: int) -> str:
    """The follow-up as a standalone question (one short model call); if the model fails
    or its reply is unusable, the two questions merged by `merge_followup`."""
    from langchain_core.messages import HumanMessage, SystemMessage

    messages = [
        SystemMessage(REWRITE_PROMPT),
        HumanMessage(f"Earlier question: {previous_question}\nFollow-up: {followup}"),
    ]
    try:
        reply = str(model.invoke(messages).text)
    except Exception as exc:
        log.warning("follow-up rewrite failed (%s); merging the questions", exc)
        return merge_followup(previous_question, followup)
    rewritten = _first_line(reply)
    known = set(terms(previous_question)) | set(terms(followup))
    if not rewritten or len(rewritten) > max_chars or not known.intersection(terms(rewritten)):
        log.warning("unusable follow-up rewrite %r; merging the questions", _clip(reply))
        return merge_followup(previous_question, followup)
    return rewritten


def merge_followup(previous_question: str, followup: str) -> str:
    """A standalone question without a model: the follow-up, then the earlier question's
    content words it does not already contain ("And in March?" + "Who warned Russia…")."""
    have = set(terms(followup))
    extra: list[str] = []
    for word in previous_question.split():
        cleaned = word.strip("?!.,;:\"'()")
        word_terms = terms(cleaned)
        if word_terms and not have.issuperset(word_terms) and cleaned not in extra:
            extra.append(cleaned)
    return f"{followup} ({' '.join(extra)})" if extra else followup


def _first_line(reply: str) -> str:
    for line in reply.strip().splitlines():
        line = re.sub(r"^(?:standalone\s+)?question\s*:\s*", "", line.strip(), flags=re.I)
        line = line.strip().strip("\"'“”").strip()
        if line:
            return line
    return ""


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
