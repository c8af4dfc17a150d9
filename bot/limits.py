"""How often a user may do things: one sliding-window counter serving the per-user rate limit
of questions and the per-user quota of LLM calls.

All of it is in-process state driven by an injectable clock, so it is tested without waiting,
and bounded: idle keys are forgotten, and at most `max_keys` are kept.
"""

from __future__ import annotations

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
        for key in list(self._events)[:8]:  # a few at a time keeps each call cheap
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

    def try_acquire(self, user: Hashable, calls: int = 1) -> bool:
        return self._window.try_take(user, calls)

    def remaining(self, user: Hashable) -> int:
        return self._window.remaining(user)

    def retry_after(self, user: Hashable) -> float:
        """Seconds until the user may make one more call (0 if they may now)."""
        return self._window.wait(user)
