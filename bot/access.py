"""Who may use the bot, and how often: allowlists, admins, a per-user rate limit, and the
bookkeeping that makes a refusal polite (said once, not to every message).

All of it is in-process state driven by an injectable clock, so it is tested without waiting.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

REFUSAL = (
    "Sorry, this bot is private and you are not on its list of users."
    " Please ask its owner for access."
)


@dataclass(frozen=True)
class AccessPolicy:
    """Optional allowlists of users and chats, and the admins (who may add documents).

    An empty list does not restrict: no user list means any user, no chat list means any
    chat. With both, a user must be on the user list and the chat on the chat list. Admins
    are always let in.
    """

    allowed_users: frozenset[int] = frozenset()
    allowed_chats: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        if user_id is not None and user_id in self.admins:
            return True
        if self.allowed_users and user_id not in self.allowed_users:
            return False
        return not (self.allowed_chats and chat_id not in self.allowed_chats)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins


@dataclass(frozen=True)
class Verdict:
    """The rate limiter's answer: go ahead, or wait `wait_seconds` (and whether to say so)."""

    allowed: bool
    wait_seconds: float = 0.0
    notify: bool = False

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait, rounded up, at least one."""
        return max(1, math.ceil(self.wait_seconds))


class RateLimiter:
    """At most `per_minute` questions per user in any 60 seconds (0 = unlimited).

    A user over the limit is told once how long to wait; further messages in that wait are
    ignored, so a flood of messages does not become a flood of replies.
    """

    WINDOW = 60.0

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 100_000,
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._max_users = max_users
        self._asked: OrderedDict[int, deque[float]] = OrderedDict()
        self._told_until: dict[int, float] = {}

    def check(self, user_id: int) -> Verdict:
        """Count a question by this user if the limit allows it."""
        if self.per_minute <= 0:
            return Verdict(True)
        now = self._clock()
        asked = self._asked.setdefault(user_id, deque())
        self._asked.move_to_end(user_id)
        while asked and now - asked[0] >= self.WINDOW:
            asked.popleft()
        if len(asked) < self.per_minute:
            asked.append(now)
            self._told_until.pop(user_id, None)
            self._forget_oldest()
            return Verdict(True)
        wait = self.WINDOW - (now - asked[0])
        notify = self._told_until.get(user_id, 0.0) <= now
        if notify:
            self._told_until[user_id] = now + wait
        return Verdict(False, wait, notify)

    def _forget_oldest(self) -> None:
        while len(self._asked) > self._max_users:
            user_id, _ = self._asked.popitem(last=False)
            self._told_until.pop(user_id, None)


class OncePer:
    """Remembers keys for `seconds`: `first(key)` is true once per key per period.

    Used so a refused user hears the refusal once, not on every message.
    """

    def __init__(
        self,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._max_keys = max_keys
        self._seen: OrderedDict[object, float] = OrderedDict()

    def first(self, key: object) -> bool:
        now = self._clock()
        at = self._seen.get(key)
        if at is not None and now - at < self.seconds:
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > self._max_keys:
            self._seen.popitem(last=False)
        return True


class RecentIds:
    """The last `size` update ids seen, so an update delivered twice is handled once."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def add(self, update_id: int) -> bool:
        """Record the id; False if it was already seen."""
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True
