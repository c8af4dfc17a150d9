"""The archive follows its sources: admins send links (added at once) and manage RSS/Atom
subscriptions with /feeds; the application polls the feeds every FEED_POLL_MINUTES on
python-telegram-bot's JobQueue. Fetching is polite and SSRF-safe (`retrieval.ingest.fetching`);
a broken feed or page is reported and retried later, never stopping the bot.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Message

from bot.delivery import reply_html, typing
from bot.render import esc, shorten
from bot.services import BotContext
from retrieval import CitebotError
from retrieval.ingest.fetching import FetchError
from retrieval.ingest.web import urls_in

log = logging.getLogger(__name__)

FEEDS_USAGE = (
    "<code>/feeds</code> lists the subscriptions, <code>/feeds add URL</code> subscribes,"
    " <code>/feeds remove URL</code> unsubscribes."
)
NOT_ADMIN = "Only the bot's admins can add sources to the archive."
VERBS = {"added": "Added", "updated": "Updated"}


def only_links(text: str) -> list[str]:
    """The links of a message made of nothing but links (else none: it is a question)."""
    urls = urls_in(text)
    rest = text
    for url in urls:
        rest = rest.replace(url, " ")
    return urls if urls and not rest.strip(" \n\t,;") else []


async def receive_links(context: BotContext, message: Message, urls: list[str]) -> None:
    """Fetch and ingest the pages an admin sent; say what was added, or why not."""
    s = context.services
    thread_id = message.message_thread_id if message.is_topic_message else None
    async with typing(context.bot, message.chat_id, thread_id, s.timing.typing_every):
        results, report = await asyncio.to_thread(s.archive.add_links, urls)
    lines = []
    for r in results:
        link = esc(shorten(r.url, 120))
        if r.error:
            lines.append(f"✗ {link}: {esc(r.error)}")
        else:
            verb = {"added": "Added", "updated": "Updated"}.get(
                r.change, "Already here, unchanged:"
            )
            lines.append(f"✓ {verb} “{esc(shorten(r.title, 150))}” ({link})")
    if report.chunks_written:
        lines.append(f"{report.chunks_written} passages indexed.")
    await reply_html(context.bot, message, "\n".join(lines))


async def on_feeds(context: BotContext, message: Message, argument: str) -> None:
    """/feeds [add URL | remove URL]: manage the subscriptions (admins only)."""
    s = context.services
    user = message.from_user
    if user is None or not s.access.is_admin(user.id):
        await reply_html(context.bot, message, esc(NOT_ADMIN))
        return
    try:
        text = await _feeds_reply(context, argument)
    except CitebotError as exc:  # e.g. a damaged feed list: say what is wrong and how to fix it
        log.warning("/feeds %s: %s", argument, exc)
        text = f"Could not use the feed list: {esc(str(exc))}"
    await reply_html(context.bot, message, text)


async def _feeds_reply(context: BotContext, argument: str) -> str:
    """What /feeds ARGUMENT does, as the HTML reply."""
    archive = context.services.archive
    action, _, url = argument.strip().partition(" ")
    url = url.strip()
    if action == "add" and url:
        try:
            feed = await asyncio.to_thread(archive.subscribe, url)
        except FetchError as exc:
            return f"Could not subscribe: {esc(str(exc))}"
        return f"Subscribed to {esc(feed.url)}. New articles are added as they appear."
    if action == "remove" and url:
        removed = await asyncio.to_thread(archive.unsubscribe, url)
        return f"Unsubscribed from {esc(url)}." if removed else f"Not subscribed to {esc(url)}."
    if action:
        return FEEDS_USAGE
    feeds = await asyncio.to_thread(archive.feeds)
    if not feeds:
        return f"No feeds yet. {FEEDS_USAGE}"
    lines = [f"<b>{len(feeds)} feed{'' if len(feeds) == 1 else 's'}</b>"]
    for f in feeds:
        state = f"failing ({esc(shorten(f.last_error, 80))})" if f.failures else "ok"
        lines.append(
            f"• {esc(shorten(f.title or f.url, 80))} · {esc(shorten(f.url, 120))} · {state}"
        )
    return "\n".join(lines)


async def poll_feeds(context: BotContext) -> None:
    """The JobQueue's round over the due feeds; what changed is ingested at once."""
    archive = context.services.archive
    try:
        report, ingested = await asyncio.to_thread(archive.poll_feeds)
    except CitebotError as exc:  # a damaged feed list, an unusable index: the message says
        log.error("feed round failed: %s", exc)
        return
    except Exception:  # a failing round is logged and tried again next time
        log.exception("feed round failed")
        return
    if report.polled or report.failed:
        log.info("feeds: %s; %s", report.summary(), ingested.summary())
