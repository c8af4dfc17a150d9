"""Showing an answer while the LLM writes it: one message, sent with the first checked draft,
edited with newer drafts at most once every few seconds (Telegram's flood limits), and at
last replaced by the final, checked answer with its buttons.

The stream (`retrieval.answer.llm.AnswerStream`) blocks on the model, so it is iterated in a worker
thread; drafts reach the event loop through a queue. Drafts hold only sentences that already
passed the citation check, and a draft that cannot be shown (a flood limit, a network error)
is skipped: the final answer still arrives. Only `Forbidden` (the user blocked the bot) stops
the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import Forbidden, TelegramError

from bot.delivery import edit_html, reply_html, send_html
from retrieval import Answer
from retrieval.answer import AnswerStream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    """How often the bot updates what a chat sees while it works (seconds)."""

    typing_every: float = 4.0  # renew "typing…" (Telegram clears it after about five)
    stream_every: float = 2.5  # edit a streamed answer in a private chat
    group_stream_every: float = 6.0  # … in a group, whose 20 messages a minute all share

    def edit_every(self, private: bool) -> float:
        """Seconds between two edits of one streamed answer in this kind of chat."""
        return self.stream_every if private else max(self.stream_every, self.group_stream_every)


class LiveMessage:
    """The bot's reply to `message`: sent with the first draft, then edited in place, never
    more often than once every `every` seconds."""

    def __init__(
        self, bot: Bot, message: Message, every: float, thread_id: int | None = None
    ) -> None:
        self.bot = bot
        self.message = message
        self.every = every
        self.thread_id = thread_id
        self.sent: Message | None = None
        self.edits = 0
        self._shown = ""
        self._next_at = 0.0  # loop time when the message may change again

    @property
    def ready_in(self) -> float:
        """Seconds until the message may be edited again."""
        return max(0.0, self._next_at - asyncio.get_running_loop().time())

    async def show(self, html: str) -> None:
        """Show a draft (send it, or edit the message to it); a failure only costs the draft."""
        if html == self._shown:
            return
        try:
            if self.sent is None:
                self.sent = await reply_html(self.bot, self.message, html)
            else:
                await edit_html(self.bot, self.sent.chat_id, self.sent.message_id, html)
                self.edits += 1
            self._shown = html
        except Forbidden:
            raise
        except TelegramError as exc:
            log.info("could not show a draft in chat %s: %s", self.message.chat_id, exc)
        self._next_at = asyncio.get_running_loop().time() + self.every

    async def finish(self, parts: Sequence[str], keyboard: InlineKeyboardMarkup) -> None:
        """Replace the draft with the final answer's first part (waiting out the edit
        interval), send any further parts; the keyboard goes under the last part."""
        rest = list(parts)
        if self.sent is None:
            first = rest.pop(0)
            await reply_html(self.bot, self.message, first, None if rest else keyboard)
        else:
            await asyncio.sleep(self.ready_in)
            first = rest.pop(0)
            await edit_html(
                self.bot,
                self.sent.chat_id,
                self.sent.message_id,
                first,
                None if rest else keyboard,
            )
            self.edits += 1
        for i, part in enumerate(rest):
            last = i == len(rest) - 1
            await send_html(
                self.bot,
                self.message.chat_id,
                part,
                thread_id=self.thread_id,
                keyboard=keyboard if last else None,
            )


async def follow(stream: AnswerStream, live: LiveMessage, render: Callable[[str], str]) -> Answer:
    """Run the stream in a worker thread, showing its drafts in `live` as often as allowed
    (the newest draft wins, older ones are skipped); the final Answer once it is done."""
    loop = asyncio.get_running_loop()
    drafts: asyncio.Queue[str | None] = asyncio.Queue()

    def run() -> Answer:
        try:
            for draft in stream:
                loop.call_soon_threadsafe(drafts.put_nowait, draft)
            return stream.answer
        finally:
            loop.call_soon_threadsafe(drafts.put_nowait, None)

    worker = asyncio.ensure_future(asyncio.to_thread(run))
    pending: str | None = None
    try:
        while True:
            if pending is not None and live.ready_in <= 0:
                await live.show(render(pending))
                pending = None
            wait = None if pending is None else live.ready_in
            try:
                draft = await asyncio.wait_for(drafts.get(), wait)
            except TimeoutError:
                continue
            if draft is None:
                break
            pending = draft
        return await worker
    finally:
        if not worker.done():
            worker.cancel()  # the thread finishes on its own; its result is not needed
            with contextlib.suppress(asyncio.CancelledError):
                await worker
