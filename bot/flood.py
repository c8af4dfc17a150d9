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
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

OVERALL_PER_SECOND = 30
OVERALL_BURST = 10
GROUP_PER_MINUTE = 20
GROUP_BURST = 4
CHAT_PER_SECOND = 1
_KEEP_LIMITERS = 512  # idle per-chat buckets are dropped beyond this many

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
