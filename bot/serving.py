"""Running the bot: long polling (the default) or a webhook, start-up checks, and a graceful
shutdown that finishes the answers in flight.

    async with running(application, Polling()):   # or Webhook(url, listen, port, secret)
        ...                                        # the bot answers until the block ends

`serve` runs until SIGINT/SIGTERM (or a given event); `citebot serve` calls it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import signal
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from telegram import Update
from telegram.ext import Application

from bot.settings import Settings
from bot.webhook import WebhookServer

log = logging.getLogger(__name__)

# Telegram accepts 1-256 characters A-Z, a-z, 0-9, _ and - as a webhook secret token.
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class ServeConfigError(ValueError):
    """`citebot serve` cannot start with these settings; the message says what to change."""


@dataclass(frozen=True)
class Polling:
    """Fetch updates with getUpdates, waiting up to `timeout` seconds per request."""

    timeout: float = 10.0
    drop_pending_updates: bool = False


@dataclass(frozen=True)
class Webhook:
    """Receive updates at `url` (public), served on `listen`:`port` at the url's path."""

    url: str
    listen: str
    port: int
    secret: str
    drop_pending_updates: bool = False

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"


Mode = Polling | Webhook


def check_token(settings: Settings) -> None:
    if not settings.telegram_bot_token.strip():
        raise ServeConfigError(
            "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather and put its token in"
            " .env (TELEGRAM_BOT_TOKEN=123456:ABC…) or in the environment."
        )


def choose_mode(
    settings: Settings,
    webhook_url: str | None = None,
    listen: str | None = None,
    port: int | None = None,
) -> Mode:
    """Polling, or a webhook when a URL is given (flag or WEBHOOK_URL); checks the secret."""
    url = (webhook_url or settings.webhook_url).strip()
    if not url:
        return Polling(drop_pending_updates=settings.drop_pending_updates)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ServeConfigError(f"the webhook URL must be an https:// address, not {url!r}")
    secret = settings.webhook_secret.strip()
    if not secret:
        raise ServeConfigError(
            "webhook mode needs WEBHOOK_SECRET: a random string (letters, digits, _ and -,"
            " up to 256) that Telegram sends with every update. For example:"
            " python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if not _SECRET.fullmatch(secret):
        raise ServeConfigError(
            "WEBHOOK_SECRET may only hold letters, digits, _ and -, at most 256 of them"
        )
    return Webhook(
        url=url,
        listen=listen or settings.webhook_listen,
        port=settings.webhook_port if port is None else port,
        secret=secret,
        drop_pending_updates=settings.drop_pending_updates,
    )


@contextlib.asynccontextmanager
async def running(
    application: Application,  # type: ignore[type-arg]
    mode: Mode,
) -> AsyncIterator[WebhookServer | None]:
    """The bot answering updates while the block runs; yields the webhook server, if any.

    Start-up checks the token (getMe: `telegram.error.InvalidToken` if Telegram rejects it)
    and loads the embedding model once. Shutdown stops taking updates first, then waits
    for the answers in flight.
    """
    await application.initialize()
    server: WebhookServer | None = None
    try:
        await asyncio.to_thread(application.bot_data.services.archive.warm_up)
        await application.start()
        try:
            if isinstance(mode, Polling):
                assert application.updater is not None
                await application.updater.start_polling(
                    timeout=dt.timedelta(seconds=mode.timeout),
                    drop_pending_updates=mode.drop_pending_updates,
                    allowed_updates=Update.ALL_TYPES,
                )
            else:
                server = WebhookServer(application, mode.secret, mode.listen, mode.port, mode.path)
                await server.start()
                await application.bot.set_webhook(
                    mode.url,
                    secret_token=mode.secret,
                    drop_pending_updates=mode.drop_pending_updates,
                    allowed_updates=Update.ALL_TYPES,
                )
            log.info("@%s is answering (%s)", application.bot.username, _describe(mode))
            yield server
        finally:
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if server is not None:
                await server.stop()
            await application.stop()  # waits for updates being handled
    finally:
        await application.shutdown()


async def serve(
    application: Application,  # type: ignore[type-arg]
    mode: Mode,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the bot until `stop` is set or SIGINT/SIGTERM arrives (in the main thread);
    `ready` is told, in words, once the bot is answering."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals: list[signal.Signals] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
                signals.append(sig)
    try:
        async with running(application, mode):
            if ready is not None:
                ready(f"@{application.bot.username} is answering ({_describe(mode)})")
            await stop.wait()
            log.info("stopping: finishing the answers in flight")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def _describe(mode: Mode) -> str:
    if isinstance(mode, Polling):
        return "long polling"
    return f"webhook {mode.url}, listening on {mode.listen}:{mode.port}"
