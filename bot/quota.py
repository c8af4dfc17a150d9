"""Per-user quota of LLM calls in a sliding hour, shared by every thread of the process."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable


class LLMQuota:
    """At most `calls_per_hour` LLM calls per user in any sliding window of `window` seconds.

    `try_acquire(user)` records a call and returns True, or returns False (recording nothing)
    when the user's calls in the window are used up; the caller then answers without the LLM.
    A quota of 0 allows no LLM calls at all.
    """

    def __init__(
        self,
        calls_per_hour: int,
        window: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if calls_per_hour < 0:
            raise ValueError("calls_per_hour must be 0 or more")
        self.limit = calls_per_hour
        self.window = window
        self._clock = clock
        self._calls: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def try_acquire(self, user: Hashable, calls: int = 1) -> bool:
        """Record `calls` calls for the user if all of them fit in the quota; True if they did."""
        with self._lock:
            now = self._clock()
            history = self._recent(user, now)
            if len(history) + calls > self.limit:
                return False
            history.extend([now] * calls)
            self._calls[user] = history
            return True

    def remaining(self, user: Hashable) -> int:
        """How many calls the user may still make in the current window."""
        with self._lock:
            return max(0, self.limit - len(self._recent(user, self._clock())))

    def retry_after(self, user: Hashable) -> float:
        """Seconds until the user may make one more call (0 if they may now)."""
        with self._lock:
            now = self._clock()
            history = self._recent(user, now)
            if self.limit == 0:
                return float("inf")
            if len(history) < self.limit:
                return 0.0
            return max(0.0, history[len(history) - self.limit] + self.window - now)

    def _recent(self, user: Hashable, now: float) -> deque[float]:
        history = self._calls.get(user)
        if history is None:
            return deque()
        while history and history[0] <= now - self.window:
            history.popleft()
        if not history:
            del self._calls[user]
        return history
