"""Inline mode: the real bot and archive against the fake Bot API server, which checks
answerInlineQuery as Telegram does (one answer per query, within its time limit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import bot.inline as inline_mode
from bot.services import Services
from bot.settings import Settings
from retrieval import Archive
from tests.bot.conftest import ADMIN, USER, ask, bot
from tests.conftest import CROCUS_QUESTION
from tests.fakes.botapi_server import BotApiServer, buttons, check_html

pytestmark = pytest.mark.slow

PATIENCE = 300.0


@pytest.fixture(autouse=True)
def patient(api: BotApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's deadline and Telegram's limit stretched alike: the suite may share a busy
    machine, and what is checked here is the behaviour, not the speed (benchmarks/voice.py
    and the deadline test below cover that)."""
    monkeypatch.setattr(inline_mode, "DEADLINE", PATIENCE)
    api.inline_query_timeout = PATIENCE + 10


async def inline(api: BotApiServer, query: str, user_id: int = USER) -> dict[str, Any]:
    """Send an inline query and return the bot's answer to it."""
    update = api.push_inline_query(query, user_id=user_id)
    query_id = update["inline_query"]["id"]
    await api.wait_for("answerInlineQuery", inline_query_id=query_id, timeout=PATIENCE)
    return api.inline_answers[query_id]


async def test_an_inline_query_gets_the_cited_answer_ready_to_send(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    async with bot(bot_settings(), archive):
        answer = await inline(api, CROCUS_QUESTION)
    [result] = answer["results"]
    assert result["type"] == "article" and result["title"].endswith("United States")
    message = result["input_message_content"]
    assert message["parse_mode"] == "HTML"
    html = message["message_text"]
    assert html.startswith(f"❓ <i>{CROCUS_QUESTION}</i>")
    assert "United States</b> warned Russia" in html and "[1]" in html
    assert "<b>Sources</b>\n[1] The United States warned Russia" in html
    assert len(check_html(html)) <= 4096
    payload = answer["button"]["start_parameter"]
    assert payload.startswith("q_")
    [[link]] = result["reply_markup"]["inline_keyboard"]
    assert link["url"] == f"https://t.me/{api.username}?start={payload}"
    assert answer["cache_time"] == 60 and not answer.get("is_personal")


async def test_the_deep_link_opens_the_full_answer_in_the_private_chat(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    async with bot(bot_settings(), archive):
        offered = await inline(api, CROCUS_QUESTION)
        payload = offered["button"]["start_parameter"]
        full = await ask(api, f"/start {payload}", chat_id=USER + 7)
        unknown = await ask(api, "/start q_0123456789ab", chat_id=USER + 7)
        chat_answer = await ask(api, "When was the attack?", chat_id=USER + 8)
        # another chat's answer is not opened by a deep link naming it
        shown_id = buttons(chat_answer)["👍"].split(":")[1]
        foreign = await ask(api, f"/start q_{shown_id}", chat_id=USER + 7)
    assert "United States" in full["text"] and "Sources" in full["text"]
    assert {"[1]", "👍", "👎"} <= set(buttons(full))
    assert unknown["text"] == "I no longer have that answer. Please ask again."
    assert foreign["text"] == unknown["text"]


async def test_short_queries_refusals_and_unknown_answers(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    async with bot(bot_settings(allowed_user_ids=frozenset({USER})), archive):
        typing = await inline(api, "who w")
        stranger = await inline(api, CROCUS_QUESTION, user_id=USER + 99)
        admin = await inline(api, CROCUS_QUESTION, user_id=ADMIN)
        nothing = await inline(api, "What did the lighthouse keepers' guild vote on in 2019?")
    assert typing["results"] == [] and typing["button"]["start_parameter"] == "inline"
    assert stranger["results"] == [] and stranger["button"]["text"].startswith(
        "This bot is private"
    )
    assert stranger["cache_time"] == 0 and stranger["is_personal"] is True
    assert admin["results"] and admin["is_personal"] is True  # allowlists: never shared
    [refusal] = nothing["results"]
    assert refusal["title"] == "No answer in the archive"
    assert "<b>Nearest sources</b>" in refusal["input_message_content"]["message_text"]


async def test_inline_queries_share_the_rate_limit_and_repeats_come_from_the_cache(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    async with bot(bot_settings(rate_limit_per_minute=2), archive):
        first = await inline(api, CROCUS_QUESTION)
        again = await inline(api, CROCUS_QUESTION.upper())  # the same question: no count
        await ask(api, "Who is Sergei Naryshkin?")  # a chat question counts too
        limited = await inline(api, "When did the embassy warn about concerts?")
    assert again["results"][0]["id"] == first["results"][0]["id"]
    assert limited["results"] == []
    assert limited["button"]["text"].startswith("Too many questions: try again in")


async def test_an_answer_later_than_the_deadline_is_not_sent_but_kept_for_next_time(
    api: BotApiServer,
    bot_settings: Callable[..., Settings],
    archive: Archive,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inline_mode, "DEADLINE", 0.0)
    async with bot(bot_settings(), archive) as application:
        late = api.push_inline_query(CROCUS_QUESTION)
        await api.wait_until_fetched(late)
        services: Services = application.bot_data.services
        for _ in range(600):  # the answer arrives after the deadline, and is kept
            if services.inline_answers.get(CROCUS_QUESTION) is not None:
                break
            await asyncio.sleep(0.05)
        answer = await inline(api, CROCUS_QUESTION)
    assert late["inline_query"]["id"] not in api.inline_answers
    assert answer["results"][0]["title"].endswith("United States")
