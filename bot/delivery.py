"""Sending to Telegram: HTML messages with one plain-text retry, in-place edits, "typing…".

If Telegram cannot parse a message's entities (which escaping should make impossible), the
message is sent once more as plain text rather than lost. A transient failure (a timeout, a
lost connection, a 5xx such as "Bad Gateway") is retried after 0.5, 1 and 2 seconds. Other
errors, `BadRequest` and `Forbidden` (the user blocked the bot) among them, are not retried
and propagate to the application's error handler; 429s are waited out by `bot.flood`.

Text that echoes a user's (a file name, a question) may hold a lone surrogate, which Telegram's
JSON can carry but UTF-8 cannot; it is sent as U+FFFD rather than failing the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from telegram import (
    Bot,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

from bot.render import plain_text

log = logging.getLogger(__name__)

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Seconds to wait before each retry of a send or edit that failed transiently.
RETRY_DELAYS = (0.5, 1.0, 2.0)

T = TypeVar("T")


def is_entity_error(error: BaseException) -> bool:
    return isinstance(error, BadRequest) and "can't parse entities" in error.message.lower()


def is_not_modified(error: BaseException) -> bool:
    return isinstance(error, BadRequest) and "message is not modified" in error.message.lower()


def is_transient(error: BaseException) -> bool:
    """A failure worth retrying: PTB's NetworkError (timeouts, lost connections, 5xx) but not
    its subclass BadRequest, nor a request that could not be encoded: those would fail again
    the same way."""
    return (
        isinstance(error, NetworkError)
        and not isinstance(error, BadRequest)
        and not isinstance(error.__cause__, UnicodeError)
    )


def sendable(text: str) -> str:
    """The text with any lone surrogate replaced by U+FFFD (surrogate pairs are joined)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


async def retrying(attempt: Callable[[], Awaitable[T]], chat_id: int) -> T:
    """`attempt()`, tried again after each of `RETRY_DELAYS` while it fails transiently.

    A timeout may hide a message that did arrive, so a retry can show it twice; that is
    rarer and better than losing the answer.
    """
    for delay in RETRY_DELAYS:
        try:
            return await attempt()
        except NetworkError as exc:
            if not is_transient(exc):
                raise
            log.warning(
                "Telegram failed a request for chat %s (%s); trying again in %.1f s",
                chat_id,
                exc.message,
                delay,
            )
        await asyncio.sleep(delay)
    return await attempt()


async def send_html(
    bot: Bot,
    chat_id: int,
    text: str,
    *,
    reply_to: int | None = None,
    thread_id: int | None = None,
    keyboard: InlineKeyboardMarkup | None = None,
) -> Message:
    """Send an HTML message; retried once as plain text if Telegram rejects its entities."""
    reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    text = sendable(text)
    try:
        return await retrying(
            lambda: bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
                reply_parameters=reply,
                message_thread_id=thread_id,
                link_preview_options=_NO_PREVIEW,
            ),
            chat_id,
        )
    except BadRequest as exc:
        if not is_entity_error(exc):
            raise
        log.warning(
            "Telegram could not parse a message to chat %s (%s); sent as plain text",
            chat_id,
            exc.message,
        )
        return await retrying(
            lambda: bot.send_message(
                chat_id,
                plain_text(text),
                reply_markup=keyboard,
                reply_parameters=reply,
                message_thread_id=thread_id,
                link_preview_options=_NO_PREVIEW,
            ),
            chat_id,
        )


async def edit_html(
    bot: Bot,
    chat_id: int,
    message_id: int,
    text: str,
    keyboard: InlineKeyboardMarkup | None = None,
) -> None:
    """Replace a message's text in place (plain-text retry as for `send_html`)."""
    text = sendable(text)
    try:
        await retrying(
            lambda: bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
                link_preview_options=_NO_PREVIEW,
            ),
            chat_id,
        )
    except BadRequest as exc:
        if is_not_modified(exc):
            return
        if not is_entity_error(exc):
            raise
        log.warning(
            "Telegram could not parse an edit in chat %s (%s); sent as plain text",
            chat_id,
            exc.message,
        )
        await retrying(
            lambda: bot.edit_message_text(
                plain_text(text),
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=keyboard,
                link_preview_options=_NO_PREVIEW,
            ),
            chat_id,
        )


@contextlib.asynccontextmanager
async def typing(
    bot: Bot, chat_id: int, thread_id: int | None = None, every: float = 4.0
) -> AsyncIterator[None]:
    """Show "typing…" in the chat, renewed every `every` seconds, while the body runs.

    Telegram clears the status after about five seconds or when a message is sent. A failure
    to show it is logged and ignored: it must never cost the answer.
    """

    async def keep_typing() -> None:
        while True:
            try:
                await bot.send_chat_action(chat_id, ChatAction.TYPING, message_thread_id=thread_id)
            except Forbidden:
                return
            except TelegramError as exc:
                log.debug("could not show typing in chat %s: %s", chat_id, exc)
            await asyncio.sleep(every)

    task = asyncio.create_task(keep_typing(), name=f"typing:{chat_id}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def reply_html(
    bot: Bot, message: Message, text: str, keyboard: InlineKeyboardMarkup | None = None
) -> Message:
    """Answer a message in its chat (and topic); in groups as a reply to it."""
    private = message.chat.type == ChatType.PRIVATE
    return await send_html(
        bot,
        message.chat_id,
        text,
        reply_to=None if private else message.message_id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        keyboard=keyboard,
    )
