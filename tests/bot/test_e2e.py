"""The real bot (python-telegram-bot Application, long polling, real archive and model)
against a fake Bot API server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.app import build_application
from bot.feedback import FeedbackStore
from bot.settings import Settings
from retrieval import Archive
from tests.bot.conftest import ADMIN, USER, ask, bot
from tests.conftest import CROCUS_QUESTION
from tests.fakes.botapi_server import BotApiServer, buttons

pytestmark = pytest.mark.slow

GROUP = -100777


async def test_private_question_gets_a_cited_html_answer_with_buttons(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    async with bot(bot_settings(), archive):
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        call = await api.wait_for("sendMessage", chat_id=USER)
    assert call.params["parse_mode"] == "HTML"
    html = call.params["text"]
    assert "United States" in html and "[1]" in html
    assert "<b>Sources</b>" in html and "us-warned-russia-crocus-city-hall" in html
    labels = buttons({"reply_markup": call.params["reply_markup"]})
    assert {"[1]", "👍", "👎"} <= set(labels)
    assert all(len(data.encode()) <= 64 for data in labels.values())
    typing = api.calls_to("sendChatAction", chat_id=USER, action="typing")
    assert typing and typing[0].at <= call.at


async def test_source_button_shows_the_passage_in_place_and_back_restores_the_answer(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    async with bot(bot_settings(), archive):
        answer = await ask(api, CROCUS_QUESTION)
        api.push_callback(answer, buttons(answer)["[1]"])
        edit = await api.wait_for("editMessageText", chat_id=USER)
        await api.wait_for("answerCallbackQuery")
        shown = api.sent[(USER, answer["message_id"])]
        assert edit.params["message_id"] == answer["message_id"]
        assert shown["text"].startswith("[1] ")
        assert shown["text"] != answer["text"] and len(shown["text"]) > 300
        assert "<blockquote>" in edit.params["text"]
        api.push_callback(shown, buttons(shown)["« Back to the answer"])
        await api.wait_for("editMessageText", chat_id=USER, count=2)
        assert api.sent[(USER, answer["message_id"])]["text"] == answer["text"]


async def test_votes_are_recorded_with_question_answer_and_citations(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    settings = bot_settings()
    async with bot(settings, archive):
        answer = await ask(api, CROCUS_QUESTION)
        api.push_callback(answer, buttons(answer)["👎"])
        api.push_callback(answer, buttons(answer)["👍"], user_id=USER + 1)
        await api.wait_for("answerCallbackQuery", text="Thanks for the feedback!", count=2)
    votes = FeedbackStore(settings.feedback_db).votes()
    assert sorted((v.user_id, v.vote) for v in votes) == [(USER, -1), (USER + 1, 1)]
    assert votes[0].question == CROCUS_QUESTION
    assert "[1]" in votes[0].answer
    assert votes[0].citations[0]["chunk_id"] and votes[0].citations[0]["passage"]


async def test_group_answers_only_ask_mentions_and_replies(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    group: dict[str, Any] = {"chat_id": GROUP, "chat_type": "supergroup", "user_id": USER}
    async with bot(bot_settings(), archive):
        api.push_message(CROCUS_QUESTION, **group)  # chatter: ignored
        api.push_message(f"/ask@someone_else_bot {CROCUS_QUESTION}", **group)  # not for us
        asked = api.push_message(f"/ask {CROCUS_QUESTION}", **group)
        first = await api.wait_for("sendMessage", chat_id=GROUP)
        mention = api.push_message(f"@{api.username} who warned Russia?", **group)
        await api.wait_for("sendMessage", chat_id=GROUP, count=2)
        bot_message = api.sent[(GROUP, max(m for c, m in api.sent if c == GROUP))]
        reply = api.push_message("When was the attack?", reply_to=bot_message, **group)
        await api.wait_for("sendMessage", chat_id=GROUP, count=3)
        await api.wait_until_fetched(reply)
    replies = api.calls_to("sendMessage", chat_id=GROUP)
    assert len(replies) == 3
    replied_to = [c.params["reply_parameters"]["message_id"] for c in replies]
    assert replied_to == [
        asked["message"]["message_id"],
        mention["message"]["message_id"],
        reply["message"]["message_id"],
    ]
    assert "United States" in first.params["text"]


async def test_user_outside_the_allowlist_is_refused_once(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    stranger = 8008
    async with bot(bot_settings(allowed_user_ids=frozenset({USER})), archive):
        api.push_message(CROCUS_QUESTION, chat_id=stranger)
        refusal = await api.wait_for("sendMessage", chat_id=stranger)
        api.push_message("Please answer me", chat_id=stranger)
        answer = await ask(api, CROCUS_QUESTION)  # handled after the stranger's second message
    assert "not on its list of users" in refusal.params["text"]
    assert len(api.calls_to("sendMessage", chat_id=stranger)) == 1
    assert "United States" in answer["text"]


async def test_admin_upload_is_ingested_and_then_answerable(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive, corpus_dir: Path
) -> None:
    article = (
        "---\ntitle: Lighthouse keepers' guild votes to restore the Skerryvore lamp\n"
        "date: 2024-05-14\n---\n\n"
        "The lighthouse keepers' guild voted on Tuesday to restore the Skerryvore lamp, "
        "which has been dark since a storm cracked its lens in 2019. The guild will pay "
        "for a new Fresnel lens made by a glassworks in Leith.\n"
    )
    api.add_file("doc-1", "skerryvore-lamp.md", article.encode())
    api.add_file("doc-2", "us-warned-russia-crocus-city-hall.txt", b"A different text. " * 5)
    settings = bot_settings()
    before = {p.name: p.read_bytes() for p in corpus_dir.iterdir()}
    corpus_dir.chmod(0o555)  # as compose mounts it: read-only, owned by someone else
    try:
        async with bot(settings, archive):
            api.push_document("doc-1", chat_id=ADMIN)
            added = await api.wait_for("sendMessage", chat_id=ADMIN)
            answer = await ask(api, "Who made the new lens for the Skerryvore lamp?", chat_id=ADMIN)
            api.push_document("doc-2", chat_id=ADMIN)  # the demo article's name
            same_name = await api.wait_for("sendMessage", chat_id=ADMIN, count=3)
    finally:
        corpus_dir.chmod(0o755)
    assert added.params["text"].startswith("Added “Lighthouse keepers")
    assert "The archive now holds 2 documents" in added.params["text"]
    assert (settings.uploads_dir / "skerryvore-lamp.md").read_text() == article
    assert {p.name: p.read_bytes() for p in corpus_dir.iterdir()} == before  # untouched
    assert not list(settings.uploads_dir.glob(".upload-*"))
    # Answered from the uploaded document (which of its sentences is the reader's call).
    assert not answer["text"].startswith("The archive has nothing")
    assert "skerryvore-lamp.md" in answer["text"]
    assert "Skerryvore" in answer["text"].split("Sources")[1]
    assert "The archive now holds 3 documents" in same_name.params["text"]
    assert (settings.uploads_dir / "us-warned-russia-crocus-city-hall.txt").exists()
    assert archive.stats().documents == 3  # the demo article is still there, beside it


async def test_uploads_that_cannot_be_added_get_a_clear_reason(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive, corpus_dir: Path
) -> None:
    api.add_file("exe", "setup.exe", b"MZ\x90\x00")
    api.add_file("big", "big.txt", b"x" * 300_000)
    api.add_file("pdf", "broken.pdf", b"this is not a PDF at all")
    api.add_file("ok", "notes.txt", b"Some notes about the harbour.")
    async with bot(bot_settings(max_upload_mb=0.25), archive):
        api.push_document("ok", chat_id=USER)  # not an admin
        api.push_document("exe", chat_id=ADMIN)
        not_admin = await api.wait_for("sendMessage", chat_id=USER)
        wrong_type = await api.wait_for("sendMessage", chat_id=ADMIN)
        api.push_document("big", chat_id=ADMIN)
        too_big = await api.wait_for("sendMessage", chat_id=ADMIN, count=2)
        api.push_document("pdf", chat_id=ADMIN)
        broken = await api.wait_for("sendMessage", chat_id=ADMIN, count=3)
    assert "Only the bot's admins can add documents" in not_admin.params["text"]
    assert (
        "setup.exe is a .exe file. I can add txt, md, html, pdf or docx"
        in (wrong_type.params["text"])
    )
    assert "the limit is 0 MB" in too_big.params["text"] or "limit" in too_big.params["text"]
    assert broken.params["text"].startswith("Could not add broken.pdf:")
    assert sorted(p.name for p in corpus_dir.iterdir()) == ["us-warned-russia-crocus-city-hall.txt"]
    uploads = bot_settings().uploads_dir
    assert not uploads.exists() or not any(uploads.iterdir())  # the broken PDF is gone again
    assert not api.calls_to("getFile", file_id="exe") and not api.calls_to("getFile", file_id="big")


async def test_rate_limit_tells_the_user_when_to_try_again(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    async with bot(bot_settings(rate_limit_per_minute=2), archive):
        await ask(api, CROCUS_QUESTION)
        await ask(api, "Who is Sergei Naryshkin?")
        limited = await ask(api, "When did the embassy warn about concerts?")
        api.push_message("And now?", chat_id=USER)
        other = await ask(api, CROCUS_QUESTION, chat_id=USER + 1)
    assert limited["text"].startswith("You are asking faster than 2 questions a minute.")
    seconds = int(limited["text"].split("try again in ")[1].split(" s")[0])
    assert 1 <= seconds <= 60
    assert len(api.calls_to("sendMessage", chat_id=USER)) == 3  # told once, then quiet
    assert "United States" in other["text"]


async def test_follow_up_is_read_with_the_previous_question(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    async with bot(bot_settings(), archive):
        await ask(api, CROCUS_QUESTION)
        follow_up = await ask(api, "and when was that?")
        unrelated = await ask(api, "Who is Sergei Naryshkin?", chat_id=USER + 1)
    assert follow_up["text"].startswith(f"Follow-up to: {CROCUS_QUESTION}")
    assert "Follow-up" not in unrelated["text"]


async def test_unfit_questions_get_their_reason(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    async with bot(bot_settings(), archive):
        symbols = await ask(api, "?!? …")
        too_long = await ask(api, "word " * 500)
    assert symbols["text"] == "Please ask a question in words."
    assert "please keep it under 2,000" in too_long["text"]


async def test_start_help_and_sources_describe_the_archive(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    async with bot(bot_settings(), archive):
        start = await ask(api, "/start")
        sources = await ask(api, "/sources")
        unknown = await ask(api, "/frobnicate")
    assert "archive of 1 document, dated 2024-04-02 to 2024-04-02" in start["text"]
    assert f"mention @{api.username}" in start["text"]
    assert "1 document" in sources["text"] and "2024-04-02" in sources["text"]
    assert "us-warned-russia-crocus-city-hall" in sources["text"]
    assert "/help" in unknown["text"]


async def test_hostile_updates_never_crash_the_bot(
    api: BotApiServer,
    bot_settings: Callable[..., Settings],
    archive: Archive,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with bot(bot_settings(), archive):
        api.push_update({})  # an update with nothing in it
        edited = api.make_message(CROCUS_QUESTION, chat_id=USER)
        api.push_update({"edited_message": {**edited, "edit_date": int(time.time())}})
        post = api.make_message(CROCUS_QUESTION, chat_id=-100555, chat_type="channel")
        post.pop("from")
        api.push_update({"channel_post": post})
        api.push_message(CROCUS_QUESTION, chat_id=USER + 7, from_bot=True)
        api.push_message(None, chat_id=USER + 8, sticker=_sticker())
        api.push_message(None, chat_id=GROUP, chat_type="group", sticker=_sticker())
        api.push_update({"message": api.make_message(None, chat_id=USER + 9)})  # no content
        api.push_callback(api.make_message("x", chat_id=USER), "not-our-data")
        api.push_callback(api.make_message("x", chat_id=USER), "p:0123456789ab:1")
        twice = api.push_message(CROCUS_QUESTION, chat_id=USER + 3)
        api.push_update(twice)
        await api.wait_for("sendMessage", chat_id=USER + 3)
        sticker_reply = await api.wait_for("sendMessage", chat_id=USER + 8)
        answers = await api.wait_for("answerCallbackQuery", count=2)
        after = await ask(api, CROCUS_QUESTION, chat_id=USER + 4)
        await api.wait_until_fetched(twice)
    assert "United States" in after["text"]
    assert len(api.calls_to("sendMessage", chat_id=USER + 3)) == 1
    assert "I answer questions sent as text" in sticker_reply.params["text"]
    chats_answered = {c.params["chat_id"] for c in api.calls_to("sendMessage")}
    assert chats_answered == {USER + 3, USER + 4, USER + 8, USER + 9}  # 9: "send text"
    assert answers.params["text"] in (
        "This button no longer works. Please ask again.",
        "I no longer have that answer. Please ask again.",
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_unparsable_html_is_sent_again_as_plain_text(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    api.fail_next("sendMessage", 400, "Bad Request: can't parse entities: unsupported tag")
    async with bot(bot_settings(), archive):
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        retry = await api.wait_for("sendMessage", chat_id=USER, count=2)
    first = api.calls_to("sendMessage", chat_id=USER)[0]
    assert first.params["parse_mode"] == "HTML"
    assert "parse_mode" not in retry.params
    assert "<b>" not in retry.params["text"] and "Sources" in retry.params["text"]
    assert retry.params["reply_markup"] == first.params["reply_markup"]


async def test_blocked_bot_is_logged_and_not_retried(
    api: BotApiServer,
    bot_settings: Callable[..., Settings],
    archive: Archive,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    async with bot(bot_settings(), archive):
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        await api.wait_for("sendMessage", chat_id=USER)
        await _wait_for_log(caplog, "bot blocked or removed")
        again = await ask(api, CROCUS_QUESTION, chat_id=USER + 1)
    assert len(api.calls_to("sendMessage", chat_id=USER)) == 1
    assert "United States" in again["text"]


async def test_flood_limit_retry_after_is_waited_out(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    async with bot(bot_settings(), archive):
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        delivered = await api.wait_for("sendMessage", chat_id=USER, count=2)
    refused = api.calls_to("sendMessage", chat_id=USER)[0]
    assert delivered.at - refused.at >= 1.0
    assert isinstance(delivered.result, dict)


async def test_unexpected_errors_are_logged_and_the_user_gets_an_apology(
    api: BotApiServer,
    bot_settings: Callable[..., Settings],
    archive: Archive,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with bot(bot_settings(), archive) as application:
        message = api.make_message("anything", chat_id=USER)
        update = Update.de_json({"update_id": 999, "message": message}, application.bot)
        await application.process_error(update, RuntimeError("the disk caught fire"))
        apology = await api.wait_for("sendMessage", chat_id=USER)
    assert apology.params["text"].startswith("Sorry, something went wrong")
    assert "fire" not in apology.params["text"]
    failure = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure and f"chat {USER}" in failure[0].getMessage() and failure[0].exc_info


async def test_feedback_file_that_cannot_be_written_costs_nothing_but_the_record(
    api: BotApiServer,
    bot_settings: Callable[..., Settings],
    archive: Archive,
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the feedback folder should be")
    async with bot(bot_settings(feedback_db=blocker / "feedback.sqlite3"), archive):
        answer = await ask(api, CROCUS_QUESTION)
        api.push_callback(answer, buttons(answer)["[1]"])
        await api.wait_for("editMessageText", chat_id=USER)
        api.push_callback(answer, buttons(answer)["👍"])
        vote = await api.wait_for("answerCallbackQuery", count=2)
    assert "United States" in answer["text"]
    assert vote.params["text"] == "Sorry, your feedback could not be saved right now."


async def test_updates_are_handled_concurrently(
    bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    application = build_application(bot_settings(), archive)
    assert application.update_processor.max_concurrent_updates > 1
    assert application.bot.rate_limiter is not None


async def _wait_for_log(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, f"no log line with {text!r}: {caplog.text}"
        await asyncio.sleep(0.05)


def _sticker() -> dict[str, Any]:
    return {
        "file_id": "sticker-1",
        "file_unique_id": "s1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }
