"""The one place that wires the Telegram `Application`: Bot API address, concurrency, flood
control, the handlers and the error handler.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import handlers
from bot.flood import ChatUpdateProcessor, FloodLimiter
from bot.limits import ReplyBudget
from bot.links import poll_feeds
from bot.services import BotContext, BotData, Services, attach
from bot.settings import Settings
from bot.streaming import Timing
from bot.uploads import on_start_up
from retrieval import Archive

TELEGRAM_FILE_URL = "https://api.telegram.org/file/bot"


def build_application(
    settings: Settings,
    archive: Archive,
    *,
    clock: Callable[[], float] = time.monotonic,
    timing: Timing | None = None,
    flood_retries: int = 3,
    request_timeout: float = 20.0,
) -> Application:  # type: ignore[type-arg]
    """The bot, ready to be run by `bot.serving` (or by a test against a fake Bot API).

    Updates are handled concurrently, at most a few of one chat at a time
    (`ChatUpdateProcessor`); `FloodLimiter` keeps within Telegram's flood limits (30
    messages a second overall, 20 a minute per group, about 1 a second per chat) and waits
    out a `retry_after` up to `flood_retries` times before giving up. Every update that may
    get a reply counts against its sender's and group's `ReplyBudget` (`handlers.guard`).
    `timing` says how often "typing…" is renewed and a streamed answer edited.
    """
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.strip())
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .concurrent_updates(ChatUpdateProcessor())
        .rate_limiter(FloodLimiter(max_retries=flood_retries))
        .read_timeout(request_timeout)
        .write_timeout(request_timeout)
        .media_write_timeout(request_timeout * 3)
    )
    base_url = settings.telegram_api_base_url.strip()
    if base_url:
        builder = builder.base_url(base_url)
    if base_url or settings.telegram_api_base_file_url.strip():
        builder = builder.base_file_url(file_url(settings))
    application = builder.build()
    attach(application, Services.create(settings, archive, clock=clock, timing=timing))
    budget = ReplyBudget(
        settings.replies_per_user_per_minute, settings.replies_per_group_per_minute, clock=clock
    )
    add_handlers(application, budget)
    schedule_feeds(application, settings.feed_poll_minutes)
    if application.job_queue is not None:  # in the background: answering starts at once
        application.job_queue.run_once(
            on_start_up,
            when=0,
            name="complete uploads",
            job_kwargs={"misfire_grace_time": None},  # run however late the start
        )
    return application


def file_url(settings: Settings) -> str:
    """Where files are downloaded from: the setting, else derived from the API base url
    (`…/bot` → `…/file/bot`, as the Bot API server lays them out)."""
    if settings.telegram_api_base_file_url.strip():
        return settings.telegram_api_base_file_url.strip()
    base = settings.telegram_api_base_url.strip().rstrip("/")
    if not base:
        return TELEGRAM_FILE_URL
    head, sep, tail = base.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else f"{base}/file/bot"


def add_handlers(application: Application, budget: ReplyBudget | None = None) -> None:  # type: ignore[type-arg]
    """Route updates: commands anywhere, plain text in private chats, addressed text in
    groups, voice notes and audio (private, or addressed in groups), documents, buttons,
    inline queries. Edited messages, channel posts and updates from bots are
    not answered. Every update passes `handlers.guard` first, which applies the `budget` of
    replies to every reply path."""
    new = filters.UpdateType.MESSAGE  # not edited messages, not channel posts
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    audio_file = filters.Document.AUDIO  # an audio file sent as a document is spoken too
    guard = functools.partial(handlers.guard, budget=budget)
    application.add_handler(TypeHandler(Update, guard), group=-1)
    application.add_handlers(
        [
            CommandHandler("start", handlers.on_start, filters=new),
            CommandHandler("help", handlers.on_help, filters=new),
            CommandHandler("sources", handlers.on_sources, filters=new),
            CommandHandler("ask", handlers.on_ask, filters=new),
            CommandHandler("feeds", handlers.on_feeds_command, filters=new),
            MessageHandler(
                new & private & filters.TEXT & ~filters.COMMAND, handlers.on_private_text
            ),
            MessageHandler(new & groups & filters.TEXT & ~filters.COMMAND, handlers.on_group_text),
            MessageHandler(new & (filters.VOICE | filters.AUDIO | audio_file), handlers.on_voice),
            MessageHandler(new & filters.Document.ALL, handlers.on_document),
            MessageHandler(new & private & filters.COMMAND, handlers.on_unknown_command),
            MessageHandler(new & private, handlers.on_other_private),
            CallbackQueryHandler(handlers.on_button),
            InlineQueryHandler(handlers.on_inline_query),
        ]
    )
    application.add_error_handler(handlers.on_error)


def schedule_feeds(application: Application, minutes: float) -> None:  # type: ignore[type-arg]
    """Poll the subscribed feeds every `minutes` (0: never) on the application's JobQueue."""
    if minutes > 0 and application.job_queue is not None:
        application.job_queue.run_repeating(
            poll_feeds, interval=minutes * 60, first=min(60.0, minutes * 60), name="feeds"
        )
