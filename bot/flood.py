"""Flood control: keep within Telegram's documented limits for bots, in any window of time.

Telegram asks bots to send at most ~30 messages a second overall, 20 a minute to one group,
and about one a second to one chat; above that it answers 429 with a `retry_after`.

`AIORateLimiter`'s leaky buckets let a full bucket (`max_rate`) through at once and refill at
`max_rate` per period, so up to twice the limit can pass within one period; it has no
per-chat limit; and it counts "typing…" against a group's 20 messages. `FloodLimiter` keeps
`burst + rate × period ≤ limit` for every bucket:

- overall, every request aimed at a chat: a burst of 10, then 20 a second (≤ 30 in any second);
- per group, messages and edits only: a burst of 4, then 16 a minute (≤ 20 in any minute);
- per chat, messages and edits only: one a second, no burst.

A 429 that still happens is waited out and retried up to `max_retries` times
(`AIORateLimiter` does that, holding back every other request meanwhile).

A reply that waits here holds the update being handled, and the application handles at most
`max_concurrent_updates` (256) at once; so `ChatUpdateProcessor` lets one chat hold only a
few of them: the chat's further updates wait in its own short line, holding none, and beyond
that line are dropped. How many replies a user or group gets at all is `bot.limits.ReplyBudget`,
applied by `bot.handlers.guard` before any handler.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Update
from telegram.ext import AIORateLimiter, BaseUpdateProcessor

from bot.limits import SlidingWindow

log = logging.getLogger(__name__)

OVERALL_PER_SECOND = 30
OVERALL_BURST = 10
GROUP_PER_MINUTE = 20
GROUP_BURST = 4
CHAT_PER_SECOND = 1
_KEEP_LIMITERS = 512  # idle per-chat buckets are dropped beyond this many
MAX_CONCURRENT_UPDATES = 256  # updates handled at once, all chats together
CHAT_CONCURRENT_UPDATES = 3  # of them, at most this many from one chat
CHAT_BACKLOG = 20  # a chat's further updates wait, up to this many; beyond, they are dropped

JSON = bool | dict[str, Any] | list[dict[str, Any]]


def window_limiter(limit: float, period: float, burst: float) -> AsyncLimiter:
    """A bucket that lets `burst` through at once and never more than `limit` per `period`
    in any window: it refills at (limit - burst) per period."""
    if not 0 < burst < limit:
        raise ValueError("burst must be more than 0 and less than limit")
    return AsyncLimiter(burst, period * burst / (limit - burst))


def is_message(endpoint: str) -> bool:
    """Whether a Bot API method puts (or changes) a message in a chat."""
    if endpoint == "sendChatAction":
        return False
    return endpoint.startswith(("send", "edit", "copyMessage", "forwardMessage"))


class FloodLimiter(AIORateLimiter):
    """`AIORateLimiter` with Telegram's overall, per-group and per-chat limits held in any
    window (see the module docstring)."""

    __slots__ = ("_chat_buckets", "_group_buckets")

    def __init__(self, max_retries: int = 3) -> None:
        super().__init__(
            overall_max_rate=OVERALL_BURST,
            overall_time_period=OVERALL_BURST / (OVERALL_PER_SECOND - OVERALL_BURST),
            group_max_rate=0,  # groups are limited here, messages only
            max_retries=max_retries,
        )
        self._chat_buckets: dict[int | str, AsyncLimiter] = {}
        self._group_buckets: dict[int | str, AsyncLimiter] = {}

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        chat = _chat_key(data.get("chat_id"))
        if chat is not None and is_message(endpoint):
            if _is_group(chat):
                await _bucket(self._group_buckets, chat, _group_limiter).acquire()
            await _bucket(self._chat_buckets, chat, _chat_limiter).acquire()
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


def _group_limiter() -> AsyncLimiter:
    return window_limiter(GROUP_PER_MINUTE, 60, GROUP_BURST)


def _chat_limiter() -> AsyncLimiter:
    return AsyncLimiter(1, 1 / CHAT_PER_SECOND)


def _chat_key(chat_id: object) -> int | str | None:
    if isinstance(chat_id, int):
        return chat_id
    if isinstance(chat_id, str) and chat_id:
        try:
            return int(chat_id)
        except ValueError:
            return chat_id  # "@channelname"
    return None


def _is_group(chat: int | str) -> bool:
    return isinstance(chat, str) or chat < 0


def _bucket(
    buckets: dict[int | str, AsyncLimiter], key: int | str, make: Callable[[], AsyncLimiter]
) -> AsyncLimiter:
    if key not in buckets and len(buckets) >= _KEEP_LIMITERS:
        for other, bucket in list(buckets.items()):
            if bucket.has_capacity(bucket.max_rate):  # idle long enough to be full again
                del buckets[other]
    if key not in buckets:
        buckets[key] = make()
    return buckets[key]


class ChatUpdateProcessor(BaseUpdateProcessor):
    """Handles up to `max_concurrent_updates` updates at once, at most `per_chat` of them from
    one chat (or, without a chat, one user).

    A chat's update beyond `per_chat` gives its slot back at once and waits in the chat's own
    line of up to `backlog` updates, handled in order as the chat's running updates finish;
    one beyond that is dropped (logged once a minute per chat). So a flooding chat never holds
    more than `per_chat` slots, and every other chat keeps being answered.
    """

    __slots__ = ("_backlog", "_dropped", "_lines", "_per_chat", "_running")

    def __init__(
        self,
        max_concurrent_updates: int = MAX_CONCURRENT_UPDATES,
        per_chat: int = CHAT_CONCURRENT_UPDATES,
        backlog: int = CHAT_BACKLOG,
    ) -> None:
        super().__init__(max_concurrent_updates)
        if per_chat < 1 or backlog < 0:
            raise ValueError("per_chat must be 1 or more and backlog 0 or more")
        self._per_chat = per_chat
        self._backlog = backlog
        self._running: dict[Hashable, int] = {}
        self._lines: dict[Hashable, deque[Awaitable[Any]]] = {}
        self._dropped = SlidingWindow(1, 60.0, max_keys=10_000)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_of(update)
        if key is None:
            await coroutine
            return
        if self._running.get(key, 0) >= self._per_chat:
            line = self._lines.get(key, deque())
            if len(line) < self._backlog:
                line.append(coroutine)
                self._lines[key] = line
                return
            _discard(coroutine)
            if self._dropped.try_take(key):
                log.warning("chat %s sends faster than it can be answered; dropping updates", key)
            return
        self._running[key] = self._running.get(key, 0) + 1
        failure: Exception | None = None
        try:
            try:
                await coroutine
            except Exception as exc:  # still serve the line, then let the application see it
                failure = exc
            while queue := self._lines.get(key):
                waiting = queue.popleft()
                if not queue:
                    del self._lines[key]
                await _quietly(waiting)
        finally:
            self._running[key] -= 1
            if not self._running[key]:
                del self._running[key]
                for waiting in self._lines.pop(key, ()):  # only if cancelled mid-line
                    _discard(waiting)
        if failure is not None:
            raise failure

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: `Application.stop` has waited for every update by now."""


def chat_of(update: object) -> Hashable | None:
    """What an update is counted against: its chat, else its sender, else nothing."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return None


async def _quietly(coroutine: Awaitable[Any]) -> None:
    """Await the handling of an update that waited in a chat's line (in the slot of another
    update of the chat): a failure is logged here rather than charged to that other update.
    (`Application.process_update` hands handler errors to the error handler itself.)"""
    try:
        await coroutine
    except Exception:
        log.exception("handling an update failed")


def _discard(coroutine: Awaitable[Any]) -> None:
    if inspect.iscoroutine(coroutine):
        coroutine.close()  # never started: no "was never awaited" warning
