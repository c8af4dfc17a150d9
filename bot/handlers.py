"""The bot's update handlers, kept thin, and its one error handler.

`bot.app` decides which handler sees which update; the work is done in `bot.answering`
(questions and buttons) and `bot.uploads` (documents from admins).
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.addressing import addressed_question, command_argument
from bot.answering import ASK_USAGE, admit, answer_question, press_button
from bot.delivery import reply_html
from bot.render import esc, render_help, render_sources
from bot.services import BotContext
from bot.uploads import receive_document
from retrieval import IndexUnavailable, InvalidQuestion

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong while handling that. Please try again in a moment."
UNAVAILABLE = "The archive is temporarily unavailable, please try again in a minute."
TEXT_ONLY = "I answer questions sent as text. Send me a question, or /help to see what I know."
UNKNOWN_COMMAND = "I do not know that command. /help lists what I can do."


async def guard(update: object, context: BotContext) -> None:
    """Stop updates that were already handled or that come from a bot."""
    if not isinstance(update, Update):
        raise ApplicationHandlerStop
    if not context.services.seen_updates.add(update.update_id):
        log.info("update %s arrived twice; handled once", update.update_id)
        raise ApplicationHandlerStop
    user = update.effective_user
    if user is not None and user.is_bot:
        raise ApplicationHandlerStop


async def on_help(update: Update, context: BotContext) -> None:
    """/start and /help: what the archive holds and how to ask."""
    message = update.effective_message
    if message is None or not await admit(update, context):
        return
    s = context.services
    stats = await asyncio.to_thread(s.archive.stats, 0)
    user_id = update.effective_user.id if update.effective_user else None
    text = render_help(stats, context.bot.username, s.access.is_admin(user_id))
    await reply_html(context.bot, message, text)


async def on_sources(update: Update, context: BotContext) -> None:
    """/sources: the newest documents in the archive."""
    message = update.effective_message
    if message is None or not await admit(update, context):
        return
    stats = await asyncio.to_thread(context.services.archive.stats, 20)
    await reply_html(context.bot, message, render_sources(stats))


async def on_ask(update: Update, context: BotContext) -> None:
    """/ask QUESTION, in any chat."""
    message = update.effective_message
    if message is None:
        return
    question = command_argument(message)
    if not question:
        if await admit(update, context):
            await reply_html(context.bot, message, ASK_USAGE)
        return
    await answer_question(update, context, question)


async def on_private_text(update: Update, context: BotContext) -> None:
    """In a private chat every text message is a question."""
    if update.effective_message and update.effective_message.text:
        await answer_question(update, context, update.effective_message.text)


async def on_group_text(update: Update, context: BotContext) -> None:
    """In a group, answer a mention of the bot or a reply to it; ignore other chatter."""
    message = update.effective_message
    if message is None:
        return
    question = addressed_question(message, context.bot.username, context.bot.id)
    if question is None:
        return
    if question:
        await answer_question(update, context, question)
    elif await admit(update, context):
        await reply_html(context.bot, message, ASK_USAGE)


async def on_document(update: Update, context: BotContext) -> None:
    """A document: admins add it to the archive (in groups only when addressed)."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    if message.chat.type != ChatType.PRIVATE and (
        addressed_question(message, context.bot.username, context.bot.id) is None
    ):
        return
    if await admit(update, context):
        await receive_document(context, message)


async def on_other_private(update: Update, context: BotContext) -> None:
    """A sticker, photo, voice note… in a private chat: say what the bot reads."""
    if update.effective_message and await admit(update, context):
        await reply_html(context.bot, update.effective_message, esc(TEXT_ONLY))


async def on_unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not have, in a private chat."""
    if update.effective_message and await admit(update, context):
        await reply_html(context.bot, update.effective_message, esc(UNKNOWN_COMMAND))


async def on_button(update: Update, context: BotContext) -> None:
    """An inline button under an answer."""
    await press_button(update, context)


def user_message(error: BaseException | None) -> str | None:
    """What the user is told about an error; None when nothing can or should be said."""
    if isinstance(error, InvalidQuestion):
        return str(error)
    if isinstance(error, IndexUnavailable):
        return UNAVAILABLE
    if isinstance(error, Forbidden):
        return None
    return APOLOGY


async def on_error(update: object, context: BotContext) -> None:
    """Log a failure with its context and tell the user briefly (never a stack trace)."""
    error = context.error
    where = _describe(update)
    if isinstance(error, Forbidden):
        log.warning("%s: Telegram refused (bot blocked or removed?): %s", where, error)
        return
    if isinstance(error, InvalidQuestion):
        log.info("%s: unfit question: %s", where, error)
    elif isinstance(error, IndexUnavailable):
        log.warning("%s: index unavailable: %s", where, error)
    else:
        log.error("%s failed", where, exc_info=error)
    text = user_message(error)
    if text is None or not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200])
        elif update.effective_message is not None:
            await reply_html(context.bot, update.effective_message, esc(text))
    except TelegramError as exc:
        log.warning("%s: could not tell the user about the failure: %s", where, exc)


def _describe(update: object) -> str:
    if not isinstance(update, Update):
        return "background work" if update is None else f"update {update!r:.200}"
    user = update.effective_user
    chat = update.effective_chat
    kind = "button" if update.callback_query else "message"
    return (
        f"update {update.update_id} ({kind} from user {user.id if user else '?'}"
        f" in chat {chat.id if chat else '?'})"
    )
