"""Short-lived memory in the process (conversation context, not data worth keeping): the
last question of each chat, for follow-ups (the archive decides whether a new message follows
up on it: `retrieval.answer.followup`), and recent inline answers by question.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


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


class RecentAnswers(Generic[T]):
    """Answers to recent questions, reused for `ttl_seconds` (inline mode asks the same
    question again with every pause in typing, and several people may ask it): keyed by the
    question with case and spacing ignored, at most `max_items`."""

    def __init__(
        self,
        ttl_seconds: float,
        max_items: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_items = max_items
        self._clock = clock
        self._items: OrderedDict[str, tuple[T, float]] = OrderedDict()

    @staticmethod
    def key(question: str) -> str:
        return " ".join(question.casefold().split())

    def get(self, question: str) -> T | None:
        key = self.key(question)
        entry = self._items.get(key)
        if entry is None:
            return None
        value, at = entry
        if self._clock() - at > self.ttl_seconds:
            del self._items[key]
            return None
        return value

    def put(self, question: str, value: T) -> None:
        if self.ttl_seconds <= 0:
            return
        key = self.key(question)
        self._items[key] = (value, self._clock())
        self._items.move_to_end(key)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
