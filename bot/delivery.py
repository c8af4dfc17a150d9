"""Sending to Telegram: HTML messages with one plain-text retry, in-place edits, "typing…".

If Telegram cannot parse a message's entities (which escaping should make impossible), the
message is sent once more as plain text rather than lost. Other errors, `Forbidden` among
them (the user blocked the bot), propagate to the application's error handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from telegram import (
    Bot,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.render import plain_text

log = logging.getLogger(__name__)

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def is_entity_error(error: BaseException) -> bool:
    return isinstance(error, BadRequest) and "can't parse entities" in error.message.lower()


def is_not_modified(error: BaseException) -> bool:
    return isinstance(error, BadRequest) and "message is not modified" in error.message.lower()


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
    try:
        return await bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
            reply_parameters=reply,
            message_thread_id=thread_id,
            link_preview_options=_NO_PREVIEW,
        )
    except BadRequest as exc:
        if not is_entity_error(exc):
            raise
        log.warning(
            "Telegram could not parse a message to chat %s (%s); sent as plain text",
            chat_id,
            exc.message,
        )
        return await bot.send_message(
            chat_id,
            plain_text(text),
            reply_markup=keyboard,
            reply_parameters=reply,
            message_thread_id=thread_id,
            link_preview_options=_NO_PREVIEW,
        )


async def edit_html(
    bot: Bot,
    chat_id: int,
    message_id: int,
    text: str,
    keyboard: InlineKeyboardMarkup | None = None,
) -> None:
    """Replace a message's text in place (plain-text retry as for `send_html`)."""
    try:
        await bot.edit_message_text(
            text,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
            link_preview_options=_NO_PREVIEW,
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
        await bot.edit_message_text(
            plain_text(text),
            chat_id=chat_id,
            message_id=message_id,
            reply_markup=keyboard,
            link_preview_options=_NO_PREVIEW,
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
