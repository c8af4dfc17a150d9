"""The bot with an LLM: the real Application (long polling) against the fake Bot API, the real
langchain client against the fake LLM server, both over HTTP on 127.0.0.1, with the real
archive and model. Streamed answers, the per-user LLM quota, follow-ups rewritten by the LLM,
the date retry's single LLM call, and the flood limits of what the bot sends."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application
from bot.flood import FloodLimiter
from bot.render import MAX_CHARS, render_draft, size
from bot.settings import Settings
from bot.streaming import Timing
from retrieval import Archive
from retrieval.answer.followup import REWRITE_PROMPT
from retrieval.types import Hit
from tests.bot.conftest import ADMIN, USER, bot
from tests.conftest import CROCUS_QUESTION
from tests.fakes.botapi_server import ApiCall, BotApiServer, buttons, check_html, utf16_len
from tests.fakes.llm_server import FakeLLMServer, Reply

pytestmark = pytest.mark.slow

GROUP = -100777
WARNED = "The United States warned Russia that Crocus City Hall"
NARYSHKIN = "Sergei Naryshkin"
FOLLOW_UP = "And how did Russia respond?"
REWRITTEN = "How did Russia respond to the US warning about Crocus City Hall?"


@pytest.fixture
def llm_bot(
    bot_settings: Callable[..., Settings],
    corpus_dir: Path,  # the demo corpus, where the settings look for it
    embedder: Any,
    llm_server: FakeLLMServer,
) -> Callable[..., tuple[Settings, Archive]]:
    """Settings for a bot whose LLM is the fake server, and its ingested demo archive."""

    def make(**overrides: Any) -> tuple[Settings, Archive]:
        values: dict[str, Any] = {
            "llm_provider": "openai",
            "llm_base_url": f"{llm_server.url}/v1",
            "llm_model": "fake-model",
            "llm_timeout": 10,
        }
        values.update(overrides)
        settings = bot_settings(**values)
        archive = Archive(settings, embedder=embedder)
        archive.ingest()
        return settings, archive

    return make


def number_of(hits: list[Hit], phrase: str) -> int:
    """The passage number (1-based, as in the prompt) of the hit whose text has the phrase."""
    for n, hit in enumerate(hits, start=1):
        if phrase in hit.chunk.text:
            return n
    raise AssertionError(f"no hit contains {phrase!r}")


def good_reply(archive: Archive, question: str, hits: list[Hit] | None = None) -> Reply:
    """A faithful two-sentence LLM answer to a question about the demo article, numbering the
    passages as the archive's search for the question (or `hits`) does."""
    hits = archive.search(question) if hits is None else hits
    a, b = number_of(hits, WARNED), number_of(hits, NARYSHKIN)
    return Reply(
        f"The United States warned Russia that Crocus City Hall was a potential target [{a}]. "
        f"Sergei Naryshkin said the information shared by the United States was too general [{b}]."
    )


async def final_answer(api: BotApiServer, chat_id: int, count: int = 1) -> ApiCall:
    """The `count`-th streamed answer's last edit: the one that adds the buttons."""
    return await api.wait_for(
        "editMessageText", chat_id=chat_id, count=count, reply_markup=lambda m: bool(m)
    )


def visible(call: ApiCall) -> str:
    return check_html(call.params["text"])


async def test_llm_answer_is_streamed_into_one_message_then_replaced_by_the_checked_answer(
    api: BotApiServer,
    llm_server: FakeLLMServer,
    llm_bot: Callable[..., tuple[Settings, Archive]],
) -> None:
    settings, archive = llm_bot()
    hits = archive.search(CROCUS_QUESTION)
    a, b = number_of(hits, WARNED), number_of(hits, NARYSHKIN)
    llm_server.queue(
        Reply(
            f"The United States warned Russia that Crocus City Hall was a potential target [{a}]. "
            "The Kremlin admitted everything. "
            f"Sergei Naryshkin called the information too general [{b}][9]. "
            f"Russia took appropriate measures, Naryshkin said [{b}].",
            piece_chars=8,
            piece_delay=0.12,  # about 3.5 s of writing
        )
    )
    every = 1.0
    async with bot(settings, archive, timing=Timing(stream_every=every)):
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        final = await final_answer(api, USER)

    (draft,) = api.calls_to("sendMessage", chat_id=USER)
    edits = api.calls_to("editMessageText", chat_id=USER)
    assert edits[-1] is final and len(edits) >= 2  # at least one draft edit, then the answer
    assert not draft.params.get("reply_markup")
    assert visible(draft).startswith(
        "The United States warned Russia that Crocus City Hall was a potential target. [1]"
    )
    message_id = draft.result["message_id"]
    assert all(e.params["message_id"] == message_id for e in edits)
    shown = [visible(draft), *(visible(e) for e in edits)]
    for earlier, later in itertools.pairwise(shown[:-1]):
        assert earlier.endswith(" …") and later.startswith(earlier[:-2])
    for earlier, later in itertools.pairwise([draft, *edits]):
        assert later.at - earlier.at >= every * 0.95
    assert all("Kremlin" not in text and "9]" not in text for text in shown)

    answer = visible(final)
    assert answer.startswith(
        "The United States warned Russia that Crocus City Hall was a potential target. [1] "
        "Sergei Naryshkin called the information too general. [2] "
        "Russia took appropriate measures, Naryshkin said. [2]"
    )
    assert "Sources" in answer and not answer.endswith("…")
    assert api.sent[(USER, message_id)]["text"] == answer
    assert {"[1]", "[2]", "👍", "👎"} <= set(buttons(final.params))
    (request,) = llm_server.requests
    assert request.stream


async def test_over_quota_the_answer_quotes_the_archive_and_says_so(
    api: BotApiServer,
    llm_server: FakeLLMServer,
    llm_bot: Callable[..., tuple[Settings, Archive]],
) -> None:
    settings, archive = llm_bot(llm_calls_per_hour=1)
    llm_server.queue(*[good_reply(archive, CROCUS_QUESTION)] * 3)
    async with bot(settings, archive, timing=Timing(stream_every=0.5)) as application:
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        by_llm = await final_answer(api, USER)
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        quoted = await api.wait_for("sendMessage", chat_id=USER, count=2)
        for count in (1, 2):  # admins have no quota
            api.push_message(CROCUS_QUESTION, chat_id=ADMIN)
            await final_answer(api, ADMIN, count)
        services = application.bot_data.services
        assert services.quota.remaining(USER) == 0

    assert "too general. [2]" in visible(by_llm)  # the LLM's wording
    text = visible(quoted)
    assert text.startswith(
        "LLM quota used up for this hour; this answer quotes the archive directly"
        " — full answers again in 60 min."
    )
    assert "too general" not in text and "[1]" in text and "Sources" in text
    assert {"[1]", "👍", "👎"} <= set(buttons(quoted.params))
    assert not api.calls_to("editMessageText", chat_id=USER, message_id=quoted.result["message_id"])
    assert len(llm_server.requests) == 3  # the user's first question and the admin's two
    assert "quota" not in visible(api.calls_to("editMessageText", chat_id=ADMIN)[-1])


async def test_follow_up_is_rewritten_by_the_llm_before_the_search(
    api: BotApiServer,
    llm_server: FakeLLMServer,
    llm_bot: Callable[..., tuple[Settings, Archive]],
) -> None:
    settings, archive = llm_bot()
    llm_server.queue(
        good_reply(archive, CROCUS_QUESTION),
        f"Standalone question: {REWRITTEN}",
        good_reply(archive, REWRITTEN),
    )
    async with bot(settings, archive, timing=Timing(stream_every=0.5)) as application:
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        await final_answer(api, USER)
        api.push_message(FOLLOW_UP, chat_id=USER)
        follow_up = await final_answer(api, USER, count=2)
        services = application.bot_data.services
        remaining = services.quota.remaining(USER)

    _, rewrite, answer = llm_server.requests
    assert not rewrite.stream and rewrite.content("system") == REWRITE_PROMPT
    assert CROCUS_QUESTION in rewrite.content("user") and FOLLOW_UP in rewrite.content("user")
    assert answer.stream
    assert answer.content("user").rstrip().endswith(f"only): {REWRITTEN}")
    assert FOLLOW_UP not in answer.content("user")
    text = visible(follow_up)
    assert text.startswith(f"Follow-up to: {CROCUS_QUESTION}")
    assert "too general. [2]" in text
    assert remaining == settings.llm_calls_per_hour - 3  # two answers and the rewrite


async def test_follow_up_without_quota_for_the_rewrite_is_resolved_by_rule(
    api: BotApiServer,
    llm_server: FakeLLMServer,
    llm_bot: Callable[..., tuple[Settings, Archive]],
) -> None:
    settings, archive = llm_bot(llm_calls_per_hour=2)
    combined = f"{CROCUS_QUESTION} {FOLLOW_UP}"
    llm_server.queue(good_reply(archive, CROCUS_QUESTION), good_reply(archive, combined))
    async with bot(settings, archive, timing=Timing(stream_every=0.5)):
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        await final_answer(api, USER)
        api.push_message(FOLLOW_UP, chat_id=USER)
        follow_up = await final_answer(api, USER, count=2)

    _, answer = llm_server.requests  # no rewrite: one call was left, for the answer
    assert answer.stream and answer.content("user").rstrip().endswith(f"only): {combined}")
    assert visible(follow_up).startswith(f"Follow-up to: {CROCUS_QUESTION}")


async def test_date_retry_is_decided_without_the_llm_which_is_called_at_most_once(
    llm_server: FakeLLMServer,
    llm_bot: Callable[..., tuple[Settings, Archive]],
    corpus_dir: Path,
) -> None:
    (corpus_dir / "concerts-2023.md").write_text(
        "---\ntitle: Crocus City Hall announces its summer concert season\ndate: 2023-05-10\n"
        "---\n\nCrocus City Hall, the concert hall outside Moscow, announced its summer concert"
        " season on Wednesday. Russian officials attended the opening concert, and security at"
        " the hall was described as routine.\n"
    )
    (corpus_dir / "lighthouse-2023.md").write_text(
        "---\ntitle: Lighthouse keepers' guild votes to restore the Skerryvore lamp\n"
        "date: 2023-06-14\n---\n\nThe lighthouse keepers' guild voted on Tuesday to restore the"
        " Skerryvore lamp, which has been dark since a storm cracked its lens in 2019.\n"
    )
    _, archive = llm_bot()
    unanswered = "Who warned Russia that Crocus City Hall was a potential target in June 2023?"
    related = "What did Russian officials say about Crocus City Hall in May 2023?"

    # June 2023 holds only the lighthouse, and the whole archive's warning is about 2024: not an
    # answer about June 2023. Refused, the warning offered as the nearest source, no LLM call.
    wider = archive.ask(unanswered).answer
    assert llm_server.requests == []
    assert wider.refused and wider.llm_calls == 0
    assert any(WARNED in c.passage for c in wider.citations)
    assert any(n.startswith("Nothing dated from 2023-06-01") for n in wider.notes)

    # May 2023 has a related article: the LLM reads it and finds no answer; no second call.
    llm_server.requests.clear()
    llm_server.queue("NO_ANSWER", good_reply(archive, CROCUS_QUESTION))
    dated = archive.ask(related).answer
    (request,) = llm_server.requests
    assert "summer concert season" in request.content("user")
    assert WARNED not in request.content("user")
    assert dated.refused and dated.composer == "llm"


async def test_flood_limits_space_messages_per_chat_and_per_group(
    api: BotApiServer,
    make_settings: Callable[..., Settings],
    embedder: Any,
) -> None:
    settings = make_settings(telegram_bot_token=api.token, telegram_api_base_url=api.base_url)
    application = build_application(settings, Archive(settings, embedder=embedder))
    assert isinstance(application.bot.rate_limiter, FloodLimiter)
    async with application:
        await asyncio.gather(*(application.bot.send_message(USER, f"m{i}") for i in range(3)))
        await asyncio.gather(
            *(application.bot.send_message(GROUP, f"g{i}") for i in range(6)),
            *(application.bot.send_chat_action(GROUP, "typing") for _ in range(6)),
        )

    private = [c.at for c in api.calls_to("sendMessage", chat_id=USER)]
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(private))  # ~1 a second per chat
    group = [c.at for c in api.calls_to("sendMessage", chat_id=GROUP)]
    assert len(group) == 6
    # A burst of 4, then 16 a minute (one every 3.75 s): never more than 20 in a minute.
    assert group[4] - group[0] >= 3.75 * 0.95 and group[5] - group[0] >= 7.5 * 0.95
    typing = [c.at for c in api.calls_to("sendChatAction", chat_id=GROUP)]
    assert len(typing) == 6 and max(typing) < group[4]  # "typing…" is not a message


@pytest.mark.parametrize(
    "draft",
    [
        "Tom & Jerry <script> met [1]. " * 400,  # escaping makes it longer than the limit
        "No sentence ends here " * 500 + "[2]",
        "😀 " * 3000,
    ],
)
def test_long_drafts_show_whole_sentences_within_one_message(draft: str) -> None:
    html = render_draft(draft)
    text = check_html(html)  # valid Telegram HTML
    assert size(html) <= MAX_CHARS and utf16_len(text) <= MAX_CHARS
    assert text.endswith(" …")
    body = text.removesuffix(" …")
    assert body and draft.startswith(body)
    assert not re.search(r"\[\d*$", body)  # never a cut [n] marker
