"""Per-chat follow-up memory: the last question of each chat, with an expiry, in process
memory (conversation context, not data worth keeping). The archive decides whether a new
message follows up on it (`retrieval.answer.followup`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


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
