"""Webhook mode end to end: the real bot registers its webhook with the fake Bot API server,
the test POSTs updates to the bot's own HTTP endpoint, and replies arrive at the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bot.app import build_application
from bot.serving import ServeConfigError, Webhook, choose_mode, running
from bot.settings import Settings
from bot.webhook import SECRET_HEADER
from retrieval import Archive
from tests.conftest import CROCUS_QUESTION
from tests.fakes.botapi_server import BotApiServer

pytestmark = pytest.mark.slow

SECRET = "s3cret_token-for-tests"
URL = "https://bot.example.org/telegram/hook"
USER = 3003


@pytest.fixture
def settings(make_settings: Callable[..., Settings], api: BotApiServer) -> Settings:
    return make_settings(
        telegram_bot_token=api.token,
        telegram_api_base_url=api.base_url,
        webhook_secret=SECRET,
        drop_pending_updates=True,
    )


def webhook(settings: Settings) -> Webhook:
    mode = choose_mode(settings, URL, listen="127.0.0.1", port=0)
    assert isinstance(mode, Webhook)
    return mode


async def post(
    http: aiohttp.ClientSession, url: str, update: dict[str, Any], secret: str | None = SECRET
) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with http.post(url, json=update, headers=headers) as response:
        return response.status


async def test_webhook_takes_only_updates_with_the_secret_and_answers_them(
    api: BotApiServer, settings: Settings, archive: Archive
) -> None:
    application = build_application(settings, archive)
    async with running(application, webhook(settings)) as server, aiohttp.ClientSession() as http:
        assert server is not None
        endpoint = f"http://127.0.0.1:{server.port}/telegram/hook"
        update = {"update_id": 1, "message": api.make_message(CROCUS_QUESTION, chat_id=USER)}
        assert await post(http, endpoint, update, secret=None) == 403
        assert await post(http, endpoint, update, secret="wrong") == 403
        assert await post(http, endpoint, update, secret=SECRET[:-1]) == 403
        assert await post(http, endpoint, update, secret=SECRET + "x") == 403
        async with http.post(endpoint, data=b"{not json", headers={SECRET_HEADER: SECRET}) as r:
            assert r.status == 400
        async with http.get(endpoint, headers={SECRET_HEADER: SECRET}) as r:
            assert r.status == 405
        assert not api.calls_to("sendMessage")
        assert await post(http, endpoint, update) == 200
        assert await post(http, endpoint, update) == 200  # Telegram's redelivery: once only
        reply = await api.wait_for("sendMessage", chat_id=USER)
        follow = {"update_id": 2, "message": api.make_message("/sources", chat_id=USER)}
        assert await post(http, endpoint, follow) == 200
        await api.wait_for("sendMessage", chat_id=USER, count=2)
    assert "United States" in reply.params["text"] and "[1]" in reply.params["text"]
    assert len(api.calls_to("sendMessage", chat_id=USER)) == 2
    assert api.webhook is not None
    assert api.webhook["url"] == URL
    assert api.webhook["secret_token"] == SECRET
    assert api.webhook["drop_pending_updates"] is True
    assert not api.calls_to("getUpdates")


async def test_shutdown_finishes_the_answer_in_flight(
    api: BotApiServer, settings: Settings, archive: Archive
) -> None:
    api.delay("sendMessage", 1.5)  # the answer is on its way when the bot is told to stop
    application = build_application(settings, archive)
    async with running(application, webhook(settings)) as server, aiohttp.ClientSession() as http:
        assert server is not None
        endpoint = f"http://127.0.0.1:{server.port}/telegram/hook"
        update = {"update_id": 7, "message": api.make_message(CROCUS_QUESTION, chat_id=USER)}
        assert await post(http, endpoint, update) == 200
        in_flight = await api.wait_for("sendMessage", chat_id=USER, pending=True)
        assert not in_flight.done
        stopping = time.monotonic()
    assert time.monotonic() - stopping >= 1.0  # stopping waited for the answer
    assert in_flight.done and isinstance(in_flight.result, dict)
    assert "United States" in in_flight.params["text"]
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await post(http, endpoint, update)  # no longer listening


async def test_webhook_mode_needs_a_valid_secret(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ServeConfigError, match="WEBHOOK_SECRET"):
        choose_mode(make_settings(telegram_bot_token="1:x"), URL)
    with pytest.raises(ServeConfigError, match="letters, digits"):
        choose_mode(make_settings(webhook_secret="has spaces and ü"), URL)
    with pytest.raises(ServeConfigError, match="https://"):
        choose_mode(make_settings(webhook_secret=SECRET), "ftp://example.org/hook")
    mode = choose_mode(make_settings(webhook_secret=SECRET, webhook_url=URL, webhook_port=8443))
    assert mode == Webhook(URL, "0.0.0.0", 8443, SECRET, False)
    assert mode.path == "/telegram/hook"


async def test_stopping_waits_for_slow_answers_in_several_chats(
    api: BotApiServer, settings: Settings, archive: Archive
) -> None:
    application = build_application(settings, archive)
    chats = [USER + i for i in range(1, 5)]
    async with running(application, webhook(settings)) as server, aiohttp.ClientSession() as http:
        assert server is not None
        endpoint = f"http://127.0.0.1:{server.port}/telegram/hook"
        statuses = await asyncio.gather(
            *(
                post(
                    http,
                    endpoint,
                    {"update_id": 100 + i, "message": api.make_message(CROCUS_QUESTION, chat_id=c)},
                )
                for i, c in enumerate(chats)
            )
        )
        assert statuses == [200] * len(chats)
    answered = {c.params["chat_id"] for c in api.calls_to("sendMessage")}
    assert answered == set(chats)
