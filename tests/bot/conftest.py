"""What the bot's tests share: a fake Bot API server on 127.0.0.1, settings pointing at it,
the real bot running against it, and asking it a question."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.serving import Polling, running
from bot.settings import Settings
from retrieval import Archive
from tests.fakes.botapi_server import BotApiServer

ADMIN = 5005
USER = 1001


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    async with BotApiServer() as server:
        yield server


@pytest.fixture
def bot_settings(
    make_settings: Callable[..., Settings], api: BotApiServer
) -> Callable[..., Settings]:
    """Settings for a bot that talks to `api`, with ADMIN as its admin; keywords override."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "telegram_bot_token": api.token,
            "telegram_api_base_url": api.base_url,
            "admin_user_ids": frozenset({ADMIN}),
        }
        values.update(overrides)
        return make_settings(**values)

    return make


@asynccontextmanager
async def bot(settings: Settings, archive: Archive, **kwargs: Any) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The real bot, long-polling the fake Bot API, while the block runs."""
    application = build_application(settings, archive, **kwargs)
    async with running(application, Polling(timeout=2)):
        yield application


async def ask(api: BotApiServer, text: str, chat_id: int = USER, **kwargs: Any) -> dict[str, Any]:
    """Send a question and return the bot's (last) reply message in that chat."""
    before = len(api.calls_to("sendMessage", chat_id=chat_id))
    api.push_message(text, chat_id=chat_id, **kwargs)
    call = await api.wait_for("sendMessage", chat_id=chat_id, count=before + 1)
    assert isinstance(call.result, dict), call.result
    return call.result
