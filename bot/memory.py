"""Per-chat follow-up memory: a short follow-up ("and when was that?") is read together with
the same chat's previous question, if that question was asked recently enough.

`resolve` is a pure function; `FollowupMemory` only keeps the last question of each chat,
with an expiry, in process memory (it is conversation context, not data worth keeping).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

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
_WORD = re.compile(r"[\w']+", re.UNICODE)


@dataclass(frozen=True)
class Resolved:
    """The question to search for, and the earlier question it follows up on, if any."""

    question: str
    topic: str  # what a later follow-up builds on: the original question, not the combination
    follow_up_of: str | None = None


def is_followup(text: str) -> bool:
    """Whether a message reads as a continuation rather than a question of its own."""
    words = _WORD.findall(text.lower())
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


class FollowupMemory:
    """The last question of each chat, forgotten `ttl_seconds` after it was asked."""

    def __init__(
        self,
        ttl_seconds: float,
        max_chats: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_chats = max_chats
        self._clock = clock
        self._last: OrderedDict[int, tuple[str, float]] = OrderedDict()

    def recall(self, chat_id: int) -> str | None:
        """The chat's previous question, if it has not expired."""
        entry = self._last.get(chat_id)
        if entry is None:
            return None
        question, asked_at = entry
        if self._clock() - asked_at > self.ttl_seconds:
            del self._last[chat_id]
            return None
        return question

    def remember(self, chat_id: int, question: str) -> None:
        if self.ttl_seconds <= 0:
            return
        self._last[chat_id] = (question, self._clock())
        self._last.move_to_end(chat_id)
        while len(self._last) > self.max_chats:
            self._last.popitem(last=False)
