"""Who may use the bot: allowlists and admins, and the bookkeeping that makes a refusal
polite (said once, not to every message) and a redelivered update harmless. How often a user
may ask is `bot.limits`.

All of it is in-process state driven by an injectable clock, so it is tested without waiting.
"""

from __future__ import annotations

import time
from collections import OrderedDict
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

    @property
    def restricted(self) -> bool:
        """Whether some users or chats are kept out."""
        return bool(self.allowed_users or self.allowed_chats)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins


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
