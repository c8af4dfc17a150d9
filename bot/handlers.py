"""The bot's update handlers, kept thin, and its one error handler.

`bot.app` decides which handler sees which update; the work is done in `bot.answering`
(questions and buttons) and `bot.uploads` (documents from admins).
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.addressing import addressed_question, command_argument
from bot.answering import ASK_USAGE, EXPIRED_ANSWER, admit, answer_question, press_button
from bot.delivery import reply_html
from bot.inline import INLINE_CHAT, answer_id_of, answer_inline_query
from bot.limits import BudgetVerdict, ReplyBudget
from bot.links import on_feeds, only_links, receive_links
from bot.render import esc, render_help, render_sources
from bot.services import BotContext
from bot.uploads import receive_document
from bot.voice import receive_voice, recording_of
from bot.worker import Busy
from retrieval import DataNotWritable, IndexMismatch, IndexUnavailable, InvalidQuestion, SpeechError

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong while handling that. Please try again in a moment."
UNAVAILABLE = "The archive is temporarily unavailable, please try again in a minute."
REBUILD_NEEDED = (
    "The archive's index was built with another embedding model than the one this bot is"
    " set to use, so it cannot answer until its administrator runs `citebot ingest --rebuild`."
)
READ_ONLY = (
    "The archive's folder is read-only for the bot, so nothing can be added now."
    " Its permissions (DATA_DIR) need fixing; questions are still answered."
)
TEXT_ONLY = (
    "I answer questions sent as text or as voice notes. Send me a question, or /help to see"
    " what I know."
)
UNKNOWN_COMMAND = "I do not know that command. /help lists what I can do."
SLOW_DOWN = {
    "user": "Please slow down: I answer at most {limit} messages a minute from you."
    " I will answer you again in {seconds} s.",
    "group": "Please slow down: I answer at most {limit} messages a minute in this group."
    " I will answer here again in {seconds} s.",
}
COMMANDS = ("start", "help", "sources", "ask", "feeds")  # those `bot.app` routes (tested)


# Telegram's stand-ins for people who post as their group (anonymous admins) or as a channel.
GROUP_ANONYMOUS_BOT = 1087968824
CHANNEL_BOT = 136817688


def speaks_for_a_chat(update: Update) -> bool:
    """Whether a bot sender is Telegram's stand-in for an anonymous group admin or a member
    posting as a channel: a person, who is answered (never as an admin)."""
    message, user = update.effective_message, update.effective_user
    return (
        message is not None
        and user is not None
        and message.sender_chat is not None
        and not message.is_automatic_forward
        and user.id in (GROUP_ANONYMOUS_BOT, CHANNEL_BOT)
    )


async def guard(update: object, context: BotContext, budget: ReplyBudget | None = None) -> None:
    """The gate every update passes before any handler (`bot.app` runs it first): stop
    updates that were already handled or that come from a bot, and, with a `budget`, those
    that may get a reply over their sender's or group's budget (admins are not counted);
    the first of them is told to slow down, the rest are ignored."""
    if not isinstance(update, Update):
        raise ApplicationHandlerStop
    if not context.services.seen_updates.add(update.update_id):
        log.info("update %s arrived twice; handled once", update.update_id)
        raise ApplicationHandlerStop
    user = update.effective_user
    if user is not None and user.is_bot and not speaks_for_a_chat(update):
        raise ApplicationHandlerStop
    if budget is None or not may_reply(update, context.bot.username, context.bot.id):
        return
    user_id = user.id if user else None
    if context.services.access.is_admin(user_id):
        return
    chat = update.effective_chat
    group = chat is not None and chat.type != ChatType.PRIVATE
    verdict = budget.check(user_id, chat.id if chat else None, group)
    if verdict.allowed:
        return
    if verdict.notify:
        log.info(
            "%s: over the %s budget of replies; ignored for a while",
            _describe(update),
            verdict.scope,
        )
        await _slow_down(update, context, verdict)
    raise ApplicationHandlerStop


def may_reply(update: Update, bot_username: str, bot_id: int) -> bool:
    """Whether a handler may reply to this update (what the budget of replies counts): a
    button press, a new message in a private chat, and in a group one of the bot's commands
    or a message addressed to the bot. Edits, channel posts and group chatter get none."""
    if update.callback_query is not None:
        return True
    message = update.message
    if message is None:
        return False
    if message.chat.type == ChatType.PRIVATE:
        return True
    return (
        _is_our_command(message, bot_username)
        or addressed_question(message, bot_username, bot_id) is not None
    )


def _is_our_command(message: Message, bot_username: str) -> bool:
    for entity in message.entities or ():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            name, _, to = message.parse_entity(entity)[1:].partition("@")
            return name.lower() in COMMANDS and (not to or to.lower() == bot_username.lower())
    return False


async def _slow_down(update: Update, context: BotContext, verdict: BudgetVerdict) -> None:
    """Tell the sender once that the bot ignores them for now (a cheap button answer for a
    button press); a failure to say so is only logged."""
    text = SLOW_DOWN[verdict.scope].format(limit=verdict.limit, seconds=verdict.retry_after)
    await _tell(update, context, text, "say to slow down")


async def _tell(update: Update, context: BotContext, text: str, what: str) -> None:
    """A short notice to the sender: a button answer for a button press, else a reply. A
    failure to deliver it is only logged ("could not <what>")."""
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200])
        elif update.effective_message is not None:
            await reply_html(context.bot, update.effective_message, esc(text))
    except TelegramError as exc:
        log.warning("%s: could not %s: %s", _describe(update), what, exc)


async def on_help(update: Update, context: BotContext) -> None:
    """/help (and a bare /start): what the archive holds and how to ask."""
    message = update.effective_message
    if message is None or not await admit(update, context):
        return
    s = context.services
    stats = await asyncio.to_thread(s.archive.stats, 0)
    user_id = update.effective_user.id if update.effective_user else None
    inline = bool(context.bot.bot.supports_inline_queries)
    text = render_help(stats, context.bot.username, s.access.is_admin(user_id), inline)
    await reply_html(context.bot, message, text)


async def on_start(update: Update, context: BotContext) -> None:
    """/start: the help, or, from an inline answer's button (`/start q_<id>`), that answer's
    question answered in full here."""
    message = update.effective_message
    answer_id = answer_id_of(context.args[0]) if context.args else None
    if message is None or answer_id is None or message.chat.type != ChatType.PRIVATE:
        await on_help(update, context)
        return
    if not await admit(update, context):
        return
    shown = await asyncio.to_thread(context.services.feedback.find, answer_id)
    if shown is None or shown.chat_id != INLINE_CHAT:  # only answers offered inline
        await reply_html(context.bot, message, esc(EXPIRED_ANSWER))
        return
    await answer_question(update, context, shown.answer.question)


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
    """In a private chat every text message is a question; an admin's message made only of
    links adds those pages to the archive."""
    message, user = update.effective_message, update.effective_user
    if message is None or not message.text:
        return
    urls = only_links(message.text)
    if urls and user is not None and context.services.access.is_admin(user.id):
        await receive_links(context, message, urls)
        return
    await answer_question(update, context, message.text)


async def on_feeds_command(update: Update, context: BotContext) -> None:
    """/feeds, /feeds add URL, /feeds remove URL (admins)."""
    message = update.effective_message
    if message is None or not await admit(update, context):
        return
    await on_feeds(context, message, command_argument(message))


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


async def on_voice(update: Update, context: BotContext) -> None:
    """A voice note, audio message or audio file: a spoken question (in groups, only as a
    reply to the bot or with a caption mentioning it)."""
    message = update.effective_message
    recording = recording_of(message) if message is not None else None
    if message is None or recording is None:
        return
    if message.chat.type != ChatType.PRIVATE and (
        addressed_question(message, context.bot.username, context.bot.id) is None
    ):
        return
    if await admit(update, context):
        await receive_voice(update, context, message, recording)


async def on_inline_query(update: Update, context: BotContext) -> None:
    """`@bot question` in any chat: the cited answer, ready to send there."""
    await answer_inline_query(update, context)


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
    if isinstance(error, InvalidQuestion | SpeechError | Busy):
        return str(error)
    if isinstance(error, IndexUnavailable):
        return UNAVAILABLE
    if isinstance(error, IndexMismatch):
        return REBUILD_NEEDED
    if isinstance(error, DataNotWritable):
        return READ_ONLY
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
    elif isinstance(error, SpeechError | Busy):
        log.info("%s: spoken question not transcribed: %s", where, error)
    elif isinstance(error, IndexUnavailable):
        log.warning("%s: index unavailable: %s", where, error)
    elif isinstance(error, IndexMismatch):
        log.error("%s: %s", where, error)
    elif isinstance(error, DataNotWritable):
        log.warning("%s: %s", where, error)
    else:
        log.error("%s failed", where, exc_info=error)
    text = user_message(error)
    if text is None or not isinstance(update, Update):
        return
    await _tell(update, context, text, "tell the user about the failure")


def _describe(update: object) -> str:
    if not isinstance(update, Update):
        return "background work" if update is None else f"update {update!r:.200}"
    user = update.effective_user
    chat = update.effective_chat
    kind = (
        "button" if update.callback_query else "inline query" if update.inline_query else "message"
    )
    return (
        f"update {update.update_id} ({kind} from user {user.id if user else '?'}"
        f" in chat {chat.id if chat else '?'})"
    )
