"""How often a user may do things: one sliding-window counter serving the per-user rate limit
of questions, the per-user quota of LLM calls and the budget of replies per user and group.

All of it is in-process state driven by an injectable clock, so it is tested without waiting,
and bounded: idle keys are forgotten, and at most `max_keys` are kept.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass


class SlidingWindow:
    """At most `limit` events per key in any window of `seconds` (thread-safe)."""

    def __init__(
        self,
        limit: int,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if limit < 0:
            raise ValueError("limit must be 0 or more")
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._max_keys = max_keys
        self._events: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._events)

    def try_take(self, key: Hashable, n: int = 1) -> bool:
        """Record `n` events for the key if all of them fit; True if they did."""
        with self._lock:
            now = self._clock()
            events = self._recent(key, now)
            if len(events) + n > self.limit:
                return False
            self._record(key, events, now, n)
            return True

    def take(self, key: Hashable, n: int = 1) -> None:
        """Record `n` events that happened, whether they fit or not (a cost already paid)."""
        if n <= 0:
            return
        with self._lock:
            now = self._clock()
            self._record(key, self._recent(key, now), now, n)

    def remaining(self, key: Hashable) -> int:
        """How many more events fit in the current window."""
        with self._lock:
            return max(0, self.limit - len(self._recent(key, self._clock())))

    def wait(self, key: Hashable) -> float:
        """Seconds until one more event fits (0 if it fits now; infinite for a 0 limit)."""
        with self._lock:
            if self.limit == 0:
                return math.inf
            now = self._clock()
            events = self._recent(key, now)
            if len(events) < self.limit:
                return 0.0
            return max(0.0, events[len(events) - self.limit] + self.seconds - now)

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - self.seconds:
            events.popleft()
        if not events:
            del self._events[key]
        return events

    def _record(self, key: Hashable, events: deque[float], now: float, n: int) -> None:
        events.extend([now] * n)
        self._events[key] = events
        self._events.move_to_end(key)
        self._forget(now)

    def _forget(self, now: float) -> None:
        """Drop keys whose events have all expired (oldest first), and the least recently
        active keys beyond `max_keys`."""
        for key in list(itertools.islice(self._events, 8)):  # a few at a time: each call cheap
            self._recent(key, now)
        while len(self._events) > self._max_keys:
            self._events.popitem(last=False)


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
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_users: int = 100_000
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._window = SlidingWindow(per_minute, self.WINDOW, clock, max_users)
        self._told = SlidingWindow(1, self.WINDOW, clock, max_users)

    def check(self, user_id: Hashable) -> Verdict:
        """Count a question by this user if the limit allows it."""
        if self.per_minute <= 0 or self._window.try_take(user_id):
            return Verdict(True)
        wait = self._window.wait(user_id)
        return Verdict(False, wait, notify=self._told.try_take(user_id))


@dataclass(frozen=True)
class BudgetVerdict(Verdict):
    """`ReplyBudget`'s answer; `scope` says which budget ran out ("user" or "group") and
    `limit` how big it is."""

    scope: str = "user"
    limit: int = 0


class ReplyBudget:
    """How many updates that may get a reply (a question, a command, a button, a sticker…)
    the bot takes in any 60 seconds: at most `per_user` from one user, wherever they are, and
    at most `per_group` in one group, where no member may take more than a quarter of it
    (Telegram delivers only 20 messages a minute to a group, shared by all its members).
    0 = unlimited.

    Over a budget the sender is told once per window (`notify`) and the rest is ignored, so a
    flood of messages never becomes a flood of replies waiting in the flood limiter.
    """

    WINDOW = 60.0

    def __init__(
        self,
        per_user: int,
        per_group: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.per_user = per_user
        self.per_group = per_group
        self.per_member = max(1, per_group // 4)
        self._users = SlidingWindow(per_user, self.WINDOW, clock, max_keys)
        self._members = SlidingWindow(self.per_member, self.WINDOW, clock, max_keys)
        self._groups = SlidingWindow(per_group, self.WINDOW, clock, max_keys)
        self._told = SlidingWindow(1, self.WINDOW, clock, max_keys)

    def check(self, user_id: int | None, chat_id: int | None, group: bool) -> BudgetVerdict:
        """Count one update of this user in this chat if every budget it falls under allows
        it; nothing is counted when one does not."""
        windows: list[tuple[str, SlidingWindow, Hashable]] = []
        if self.per_user > 0 and user_id is not None:
            windows.append(("user", self._users, user_id))
        if group and self.per_group > 0 and chat_id is not None:
            if user_id is not None:
                windows.append(("user", self._members, (chat_id, user_id)))
            windows.append(("group", self._groups, chat_id))
        for scope, window, key in windows:
            if window.remaining(key) == 0:
                return BudgetVerdict(
                    False,
                    window.wait(key),
                    notify=self._told.try_take((scope, key)),
                    scope=scope,
                    limit=window.limit,
                )
        for _, window, key in windows:
            window.take(key)
        return BudgetVerdict(True)


class LLMQuota:
    """At most `calls_per_hour` LLM calls per user in any sliding hour; 0 allows none.

    The bot lets a user's question use the LLM while `available` says so, and `charge`s the
    calls the answer actually made (a refused question makes none).
    """

    def __init__(
        self,
        calls_per_hour: int,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 100_000,
    ) -> None:
        self.limit = calls_per_hour
        self._window = SlidingWindow(calls_per_hour, 3600.0, clock, max_users)

    def __len__(self) -> int:
        return len(self._window)

    def available(self, user: Hashable) -> bool:
        return self._window.remaining(user) > 0

    def charge(self, user: Hashable, calls: int) -> None:
        self._window.take(user, calls)

    def remaining(self, user: Hashable) -> int:
        return self._window.remaining(user)

    def retry_after(self, user: Hashable) -> float:
        """Seconds until the user may make one more call (0 if they may now)."""
        return self._window.wait(user)
