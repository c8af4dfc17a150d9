"""Inline mode: `@bot question` typed in any chat offers the cited answer to send there.

The result is the answer's first sentences (the answer in bold) with the sources they cite as
links, and a button, on the result and on the message sent, that opens the full answer in the
bot's private chat (a deep link: `/start q_<id>`, which `bot.handlers.on_start` answers).

The same rules as in a chat: the allowlists (an inline query comes from no known chat, so
with a chat allowlist only admins may use it), the per-user rate limit (counted for questions
not answered recently), and refusals with the nearest sources. Telegram drops an answer to an
inline query after about ten seconds, so the answer is extractive (an LLM is never waited
for) and is given within `DEADLINE` or not at all; one that comes in late is still kept for
the next time the question is asked. Answers are reused for `INLINE_CACHE_SECONDS`, by the
bot and by Telegram's servers (per user when the bot has allowlists).

The deep link names the offered answer, kept with the chats' answers (`bot.feedback`, under
chat 0, which no chat has), so it keeps working after a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode

from bot.feedback import ShownAnswer
from bot.render import plain_text, render_inline, shorten
from bot.services import BotContext, Services
from retrieval import Answer, InvalidQuestion

log = logging.getLogger(__name__)

INLINE_CHAT = 0  # the chat id under which answers offered inline are kept
DEADLINE = 8.0  # seconds an inline query may take to answer (Telegram gives up after ~10)
MIN_QUERY_CHARS = 8  # shorter queries are still being typed: a hint, no search
_START = re.compile(r"q_([0-9a-f]{12})")

KEEP_TYPING = "Type a question, or tap here to ask me in private"
FULL_ANSWER = "Full answer and sources in a private chat"
OPEN_FULL = "Open the full answer"
NOT_ALLOWED = "This bot is private: tap for details"
SLOW_DOWN = "Too many questions: try again in {seconds} s"
NO_ANSWER_TITLE = "No answer in the archive"


def start_payload(answer_id: str) -> str:
    """The deep-link parameter that opens an inline answer in the private chat."""
    return f"q_{answer_id}"


def answer_id_of(payload: str) -> str | None:
    """The inline answer a /start parameter names, if it names one."""
    match = _START.fullmatch(payload)
    return match[1] if match else None


def inline_answer_id(question: str) -> str:
    """The same question gets the same id (so asking it again replaces its record)."""
    normal = " ".join(question.casefold().split())
    return hashlib.sha256(normal.encode()).hexdigest()[:12]


def deep_link(bot_username: str, payload: str) -> str:
    return f"https://t.me/{bot_username}?start={payload}"


async def answer_inline_query(update: Update, context: BotContext) -> None:
    """Offer the answer to an inline query, or a button saying why there is none."""
    query = update.inline_query
    if query is None:
        return
    s = context.services
    user_id = query.from_user.id
    text = " ".join(query.query.split())
    if not s.access.allows(user_id, None):
        log.info("refused inline query from user %s", user_id)
        await _button_only(query, NOT_ALLOWED, "private")
        return
    if len(text) < MIN_QUERY_CHARS:
        await _button_only(query, KEEP_TYPING, "inline")
        return
    shown = s.inline_answers.get(text)
    if shown is None:
        verdict = s.rate_limiter.check(user_id)
        if not verdict.allowed:
            await _button_only(query, SLOW_DOWN.format(seconds=verdict.retry_after), "inline")
            return
        try:
            shown = await _within_deadline(s, text)
        except InvalidQuestion as exc:
            await _button_only(query, shorten(str(exc), 64), "inline")
            return
        if shown is None:
            log.warning("inline query of user %s not answered within %.0f s", user_id, DEADLINE)
            return
    await query.answer(
        [article(shown, context.bot.username)],
        cache_time=s.settings.inline_cache_seconds,
        is_personal=s.access.restricted,
        button=InlineQueryResultsButton(FULL_ANSWER, start_parameter=start_payload(shown.id)),
    )


async def _within_deadline(s: Services, question: str) -> ShownAnswer | None:
    """The extractive answer offered for a question, kept for the deep link and the cache;
    None if it takes longer than DEADLINE (it is still kept when it comes)."""
    s.archive.check_question(question)  # an unfit question fails now, not in the thread

    def work() -> ShownAnswer:
        answer = s.archive.ask(question, use_llm=False).answer
        shown = offered(answer)
        s.feedback.keep(shown)
        return shown

    task = asyncio.ensure_future(asyncio.to_thread(work))
    task.add_done_callback(lambda done: _remember(s, question, done))
    try:
        return await asyncio.wait_for(asyncio.shield(task), DEADLINE)
    except TimeoutError:
        return None


def _remember(s: Services, question: str, done: asyncio.Future[ShownAnswer]) -> None:
    if done.cancelled() or done.exception() is not None:
        return
    s.inline_answers.put(question, done.result())


def offered(answer: Answer) -> ShownAnswer:
    """An answer as offered inline: its message, kept under `INLINE_CHAT`."""
    return ShownAnswer(
        inline_answer_id(answer.question), INLINE_CHAT, answer, render_inline(answer)
    )


def article(shown: ShownAnswer, bot_username: str) -> InlineQueryResultArticle:
    """The inline result: a title and description to choose it by, the message it sends, and
    the button that opens the full answer in the private chat."""
    answer = shown.answer
    if answer.refused:
        title = NO_ANSWER_TITLE
    else:
        spans = [answer.text[a:b] for a, b in answer.highlights]
        title = shorten(spans[0] if spans else answer.text, 100)
    body = plain_text(shown.last_part).split("\n\n", 2)
    description = shorten(body[1] if len(body) > 1 else answer.text, 200)
    link = deep_link(bot_username, start_payload(shown.id))
    return InlineQueryResultArticle(
        id=shown.id,
        title=title,
        description=description,
        input_message_content=InputTextMessageContent(
            shown.last_part,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(OPEN_FULL, url=link)]]),
    )


async def _button_only(query: InlineQuery, text: str, payload: str) -> None:
    """No results, only a button (to the private chat) that says why; never cached."""
    await query.answer(
        [],
        cache_time=0,
        is_personal=True,
        button=InlineQueryResultsButton(text, start_parameter=payload),
    )
