"""Answering in a chat: who may ask, how often, which earlier question a follow-up continues,
whether the LLM may write the answer, and the answer's buttons (open a cited passage in
place, go back, vote).

The archive does the rest in one call (`Archive.ask`), iterated in a worker thread so one
slow question never blocks other chats. Errors (an unfit question, an unreachable index,
anything else) propagate to the application's one error handler, which turns them into a
short message for the user.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math

from telegram import Update
from telegram.constants import ChatType

from bot.access import REFUSAL
from bot.buttons import answer_keyboard, decode, passage_keyboard
from bot.delivery import edit_html, reply_html, typing
from bot.feedback import ShownAnswer
from bot.render import esc, render_answer, render_draft, render_passage
from bot.services import BotContext, Services
from bot.streaming import LiveMessage, follow

log = logging.getLogger(__name__)

ASK_USAGE = "Ask me like this: <code>/ask Who warned Russia about the attack?</code>"
STALE_BUTTON = "This button no longer works. Please ask again."
EXPIRED_ANSWER = "I no longer have that answer. Please ask again."
UNKNOWN_SOURCE = "That source is not part of this answer."
VOTE_THANKS = "Thanks for the feedback!"
VOTE_FAILED = "Sorry, your feedback could not be saved right now."
QUOTA_NOTICE = (
    "LLM quota used up for this hour; this answer quotes the archive directly"
    " — full answers again in {minutes} min."
)


async def admit(update: Update, context: BotContext) -> bool:
    """Whether the sender may use the bot in this chat; a refused sender is told once."""
    s = context.services
    user, chat = update.effective_user, update.effective_chat
    user_id = user.id if user else None
    chat_id = chat.id if chat else None
    if s.access.allows(user_id, chat_id):
        return True
    log.info("refused user %s in chat %s", user_id, chat_id)
    if update.callback_query is not None:
        await update.callback_query.answer(REFUSAL, show_alert=True)
    elif update.effective_message is not None and s.refused.first((chat_id, user_id)):
        await reply_html(context.bot, update.effective_message, esc(REFUSAL))
    return False


async def answer_question(update: Update, context: BotContext, text: str) -> None:
    """Answer `text`, asked in this update's chat, if the sender may ask now."""
    if await may_ask(update, context):
        await reply_with_answer(update, context, text)


async def may_ask(update: Update, context: BotContext) -> bool:
    """Whether the sender may ask a question here and now (access, then the per-user rate
    limit, which this counts); a sender over the limit is told once when to try again."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or not await admit(update, context):
        return False
    s = context.services
    verdict = s.rate_limiter.check(user.id)
    if verdict.allowed:
        return True
    if verdict.notify:
        await reply_html(
            context.bot,
            message,
            f"You are asking faster than {s.rate_limiter.per_minute} questions a minute."
            f" Please try again in {verdict.retry_after} s.",
        )
    return False


async def reply_with_answer(
    update: Update, context: BotContext, text: str, heard: str | None = None
) -> None:
    """Reply to this update's message with a cited, buttoned answer to `text` (the sender
    was admitted by `may_ask`); `heard` is the transcript of a spoken question, shown first.

    With an LLM configured and quota left, the answer is streamed: a first message as soon as
    a checked sentence is ready, edited as the answer grows, then the final checked answer.
    Over quota the answer quotes the archive directly and says so.
    """
    message, chat, user = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or user is None:
        return
    s = context.services
    use_llm, notice = llm_allowance(s, user.id)
    stream = s.archive.ask(
        text,
        previous=s.memory.recall(chat.id),
        use_llm=use_llm,
        max_llm_calls=None if s.access.is_admin(user.id) else s.quota.remaining(user.id),
    )
    thread_id = message.message_thread_id if message.is_topic_message else None
    every = s.timing.edit_every(private=chat.type == ChatType.PRIVATE)
    live = LiveMessage(context.bot, message, every, thread_id)
    draft = functools.partial(render_draft, heard=heard)
    async with typing(context.bot, chat.id, thread_id, s.timing.typing_every):
        answer = await follow(stream, live, draft)
    if not s.access.is_admin(user.id):
        s.quota.charge(user.id, answer.llm_calls)
    s.memory.remember(chat.id, answer.follow_up_of or " ".join(text.split()))
    parts = render_answer(answer, notice=notice, heard=heard)
    shown = ShownAnswer(ShownAnswer.new_id(), chat.id, answer, parts[-1])
    await asyncio.to_thread(s.feedback.keep, shown)  # before sending: buttons work at once
    await live.finish(parts, answer_keyboard(shown.id, answer.citations))


def llm_allowance(s: Services, user_id: int) -> tuple[bool, str | None]:
    """Whether this user's question may use the LLM (admins always may; others while their
    hourly quota lasts), and the note to show when the quota ruled it out."""
    if not s.archive.has_llm:
        return False, None
    if s.access.is_admin(user_id) or s.quota.available(user_id):
        return True, None
    if s.quota.limit == 0:
        return False, None  # LLM answers are switched off for users: nothing to explain
    minutes = max(1, math.ceil(s.quota.retry_after(user_id) / 60))
    return False, QUOTA_NOTICE.format(minutes=minutes)


async def press_button(update: Update, context: BotContext) -> None:
    """Show a cited passage in place, restore the answer, or record a vote."""
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    press = decode(query.data)
    if press is None:
        await query.answer(STALE_BUTTON)
        return
    if not await admit(update, context):
        return
    s = context.services
    shown = await asyncio.to_thread(s.feedback.find, press.answer_id)
    if shown is None:
        await query.answer(EXPIRED_ANSWER)
        return
    if query.message is None or query.message.chat.id != shown.chat_id:
        # Callback data can be crafted: an answer's buttons work in the answer's chat only.
        log.info(
            "user %s pressed a button of answer %s (chat %s) in chat %s; ignored",
            query.from_user.id,
            shown.id,
            shown.chat_id,
            query.message.chat.id if query.message else None,
        )
        await query.answer(STALE_BUTTON)
        return
    if press.action == "vote":  # one vote per user and answer: a second one replaces it
        saved = await asyncio.to_thread(
            s.feedback.record_vote, shown, query.from_user.id, press.vote
        )
        await query.answer(VOTE_THANKS if saved else VOTE_FAILED)
        return
    chat_id, message_id = query.message.chat.id, query.message.message_id
    citations = shown.answer.citations
    if press.action == "passage":
        citation = shown.citation(press.n)
        if citation is None:
            await query.answer(UNKNOWN_SOURCE)
            return
        keyboard = passage_keyboard(shown.id, citations, showing=press.n)
        await edit_html(context.bot, chat_id, message_id, render_passage(citation), keyboard)
    else:
        keyboard = answer_keyboard(shown.id, citations)
        await edit_html(context.bot, chat_id, message_id, shown.last_part, keyboard)
    await query.answer()
