"""The archive following its sources through the real bot: an admin sends a link and gets
back what was added; /feeds subscribes; the JobQueue's poll adds an article, which is then
answered with its URL cited. A non-admin's link is just a question."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.settings import Settings
from retrieval import Archive
from tests.bot.conftest import ADMIN, USER, ask, bot
from tests.fakes.botapi_server import BotApiServer
from tests.fakes.web_server import Page, WebServer, article_html, bomb, rss_feed

pytestmark = pytest.mark.slow

LAMP = [
    "The harbour board voted on Tuesday to relight the Skerryvore lamp, dark since 2019.",
    "A glassworks in Leith will make the new Fresnel lens, the board's chair said.",
]
FERRY = [
    "The operator, Caledonian Ferries, announced on Monday that the island ferry will sail"
    " twice a day from June.",
    "The new timetable adds an evening crossing from Oban at 7pm.",
]


@pytest.fixture
def site() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server


@pytest.fixture
def web_settings(bot_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """The bot's settings, allowed to fetch from the local site."""
    return functools.partial(bot_settings, fetch_allow_hosts="127.0.0.1")


def web_archive(settings: Settings, embedder: Any) -> Archive:
    """The demo archive, allowed to fetch from the local site (FETCH_ALLOW_HOSTS)."""
    archive = Archive(settings, embedder=embedder)
    archive.ingest()
    return archive


async def test_an_admin_sends_links_and_the_page_is_answerable_with_its_url(
    api: BotApiServer,
    site: WebServer,
    web_settings: Callable[..., Settings],
    corpus_dir: Any,
    embedder: Any,
) -> None:
    settings = web_settings()
    archive = web_archive(settings, embedder)
    site.route("/lamp", Page(article_html("Skerryvore lamp to shine again", LAMP)))
    layers = {"Content-Encoding": "gzip, gzip, gzip"}
    site.route("/bomb", Page(bomb(50_000_000, "gzip", "gzip", "gzip"), headers=layers))
    lamp = site.url("/lamp")
    async with bot(settings, archive):
        links = f"{lamp}\n{site.url('/missing')}\n{site.url('/bomb')}"
        added = await ask(api, links, chat_id=ADMIN)
        answer = await ask(api, "Who will make the new Fresnel lens?", chat_id=ADMIN)
        not_admin = await ask(api, lamp, chat_id=USER)  # a question like any other
    assert "✓ Added “Skerryvore lamp to shine again”" in added["text"]
    assert "✗" in added["text"] and "404" in added["text"]
    assert "compressed more than once (Content-Encoding: gzip, gzip, gzip)" in added["text"]
    assert "Leith" in answer["text"]
    assert f'<a href="{lamp}">' in api.calls_to("sendMessage", chat_id=ADMIN)[1].params["text"]
    assert "Added" not in not_admin["text"]


async def test_a_subscribed_feed_is_polled_and_its_article_answered(
    api: BotApiServer,
    site: WebServer,
    web_settings: Callable[..., Settings],
    corpus_dir: Any,
    embedder: Any,
) -> None:
    settings = web_settings(feed_poll_minutes=0.02)  # a round every 1.2 s
    archive = web_archive(settings, embedder)
    site.route("/ferry", Page(article_html("Island ferry to sail twice a day", FERRY)))
    items = [
        {
            "title": "Island ferry to sail twice a day",
            "link": site.url("/ferry"),
            "guid": "urn:ferry",
            "pubDate": "Mon, 13 May 2024 08:00:00 GMT",
        }
    ]
    site.route("/rss.xml", Page(rss_feed("Island news", items), content_type="application/rss+xml"))
    async with bot(settings, archive):
        subscribed = await ask(api, f"/feeds add {site.url('/rss.xml')}", chat_id=ADMIN)
        refused = await ask(api, f"/feeds add {site.url('/rss.xml')}", chat_id=USER)
        for _ in range(100):
            if site.hits("/ferry"):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the round ingests what it fetched
        answer = await ask(api, "Who announced that the island ferry will sail twice a day?")
        listing = await ask(api, "/feeds", chat_id=ADMIN)
    assert subscribed["text"].startswith("Subscribed to")
    assert "Only the bot's admins" in refused["text"]
    assert "Caledonian Ferries" in answer["text"]
    assert site.url("/ferry") in api.calls_to("sendMessage", chat_id=USER)[-1].params["text"]
    assert "1 feed" in listing["text"] and "Island news" in listing["text"]


async def test_a_damaged_feed_list_does_not_stop_an_admins_links(
    api: BotApiServer,
    site: WebServer,
    web_settings: Callable[..., Settings],
    corpus_dir: Any,
    embedder: Any,
) -> None:
    settings = web_settings()
    archive = web_archive(settings, embedder)
    settings.feeds_path.write_bytes(bytes(range(256)) * 16)
    site.route("/lamp", Page(article_html("Skerryvore lamp to shine again", LAMP)))
    async with bot(settings, archive):
        added = await ask(api, site.url("/lamp"), chat_id=ADMIN)
        listing = await ask(api, "/feeds", chat_id=ADMIN)
    assert "✓ Added “Skerryvore lamp to shine again”" in added["text"]
    assert "feeds.sqlite3 is damaged" in listing["text"]
    assert "citebot feeds repair" in listing["text"]
