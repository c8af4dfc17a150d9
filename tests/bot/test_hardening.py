"""Issue 11, the bot's side: what the feedback file keeps and who may read it, bounded
per-user state, buttons that work only in their own chat, odd senders and odd text, upload
names, transient Bot API failures, and webhook bodies that are too big or too slow."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from telegram import Bot, Document
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut

from bot import delivery
from bot.answering import STALE_BUTTON
from bot.delivery import edit_html, send_html
from bot.feedback import FeedbackStore, ShownAnswer
from bot.limits import LLMQuota
from bot.render import esc
from bot.settings import Settings
from bot.uploads import Upload, check_upload, corpus_name
from bot.webhook import SECRET_HEADER, WebhookServer
from retrieval import Answer, Archive, Citation
from tests.bot.conftest import ADMIN, USER, ask, bot
from tests.conftest import CROCUS_QUESTION, ROOT
from tests.fakes.botapi_server import BotApiServer, buttons

OTHER = 1051
GROUP = -100777
GROUP_ANONYMOUS_BOT = 1087968824  # the `from` of anonymous group admins' messages
CHANNEL_BOT = 136817688  # the `from` of messages sent on behalf of a channel


# -- 7: the feedback file keeps votes and a bounded window, readable by its owner only ----------


def _shown(answer_id: str, chat_id: int = 7) -> ShownAnswer:
    citation = Citation(1, "c1", "Title", "corpus/x.txt", "They did.", "They did. More.")
    answer = Answer(f"Question {answer_id}?", "They did. [1]", (citation,), 0.8)
    return ShownAnswer(answer_id, chat_id, answer, "<b>last part</b>")


def _answer_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT id FROM answers ORDER BY rowid")]


def test_feedback_file_keeps_voted_answers_and_a_bounded_window_of_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data" / "feedback.sqlite3"
    store = FeedbackStore(path, keep_answers=5)
    for n in range(3):
        assert store.keep(_shown(f"old{n}"))
    assert store.record_vote(_shown("old1"), user_id=1, vote=-1)
    for n in range(40):
        assert store.keep(_shown(f"new{n}"))
    kept = _answer_ids(path)
    assert kept == ["old1"] + [f"new{n}" for n in range(35, 40)]  # voted + the 5 newest
    reopened = FeedbackStore(path, keep_answers=5)  # nothing in memory: from the file only
    assert reopened.find("old1") is not None and reopened.find("old0") is None
    assert [v.answer_id for v in reopened.votes()] == ["old1"]
    for n in range(3):  # a new process prunes what the old one left beyond the window
        assert reopened.keep(_shown(f"later{n}"))
    assert len(_answer_ids(path)) == 1 + 5


def test_an_answer_the_file_cannot_encode_is_kept_in_memory_not_raised(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    shown = ShownAnswer("odd", 7, _shown("odd").answer, "a lone \ud800 surrogate")
    assert not store.keep(shown)
    assert store.find("odd") == shown


def test_feedback_window_is_a_setting_of_2000_by_default(
    make_settings: Callable[..., Settings],
) -> None:
    assert make_settings().feedback_keep_answers == 2000
    assert make_settings(feedback_keep_answers=10).feedback_keep_answers == 10
    assert "FEEDBACK_KEEP_ANSWERS=2000" in (ROOT / ".env.example").read_text()


def test_feedback_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "feedback.sqlite3"
    assert FeedbackStore(path).keep(_shown("a"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reader = sqlite3.connect(path)  # in WAL mode, -wal and -shm files beside it while open
    try:
        reader.execute("PRAGMA journal_mode=WAL")
        reader.execute("SELECT count(*) FROM answers").fetchone()
        assert FeedbackStore(path).keep(_shown("b"))
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    finally:
        reader.close()
    assert modes.keys() > {path.name} and set(modes.values()) == {0o600}, modes
    older = tmp_path / "older.sqlite3"  # a file an earlier version left world-readable
    with sqlite3.connect(older) as db:
        db.execute("CREATE TABLE unrelated (x)")
    older.chmod(0o644)
    assert FeedbackStore(older).keep(_shown("c"))
    assert stat.S_IMODE(older.stat().st_mode) == 0o600


# -- 8: one-off users leave a bounded table -------------------------------------------------------


def test_llm_quota_of_300k_one_off_users_stays_bounded() -> None:
    now = [1000.0]
    max_users = 1_000
    quota = LLMQuota(30, clock=lambda: now[0], max_users=max_users)
    tracemalloc.start()
    try:
        for user in range(max_users):  # a full table first
            quota.charge(user, 1)
        before, _ = tracemalloc.get_traced_memory()
        for user in range(max_users, 300_000):
            if quota.available(user):
                quota.charge(user, 1)
            now[0] += 0.001
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(quota) <= max_users
    assert after - before < 256 * 1024, after - before  # replaced, not added to


# -- 12: buttons work only in the chat of their answer; one vote per user -----------------------


@pytest.mark.slow
async def test_buttons_of_one_chats_answer_do_nothing_in_another_chat(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    settings = bot_settings()
    async with bot(settings, archive):
        answer_a = await ask(api, CROCUS_QUESTION, chat_id=USER)
        answer_b = await ask(api, "Who is Sergei Naryshkin?", chat_id=OTHER)
        a = buttons(answer_a)
        api.push_callback(answer_b, a["[1]"], user_id=OTHER)  # A's passage under B's message
        api.push_callback(answer_b, a["👎"], user_id=OTHER)  # a vote on A's answer from B
        crafted = await api.wait_for("answerCallbackQuery", count=2)
        api.push_callback(answer_a, a["👍"], user_id=USER)
        await api.wait_for("answerCallbackQuery", count=3)
        api.push_callback(answer_a, a["👎"], user_id=USER)  # changes the vote, adds none
        await api.wait_for("answerCallbackQuery", count=4)
    answered = [c.params.get("text") for c in api.calls_to("answerCallbackQuery")]
    assert answered[:2] == [STALE_BUTTON, STALE_BUTTON], answered
    assert crafted.params["text"] == STALE_BUTTON
    assert not api.calls_to("editMessageText", chat_id=OTHER)
    assert api.sent[(OTHER, answer_b["message_id"])]["text"] == answer_b["text"]
    votes = FeedbackStore(settings.feedback_path).votes()
    assert [(v.user_id, v.chat_id, v.vote) for v in votes] == [(USER, USER, -1)]


# -- 13: anonymous admins and channel posters; lone surrogates -----------------------------------


@pytest.mark.slow
async def test_anonymous_admins_and_channel_posters_get_answers_in_groups(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    group = {"id": GROUP, "type": "supergroup", "title": "Group"}
    channel = {"id": -100999, "type": "channel", "title": "A channel"}
    async with bot(bot_settings(), archive):
        anonymous = api.make_message(
            f"/ask {CROCUS_QUESTION}", chat_id=GROUP, chat_type="supergroup"
        )
        anonymous["from"] = {"id": GROUP_ANONYMOUS_BOT, "is_bot": True, "first_name": "Group"}
        anonymous["sender_chat"] = group
        api.push_update({"message": anonymous})
        first = await api.wait_for("sendMessage", chat_id=GROUP, timeout=20)
        as_channel = api.make_message(
            f"@{api.username} who warned Russia?", chat_id=GROUP, chat_type="supergroup"
        )
        as_channel["from"] = {"id": CHANNEL_BOT, "is_bot": True, "first_name": "Channel"}
        as_channel["sender_chat"] = channel
        api.push_update({"message": as_channel})
        second = await api.wait_for("sendMessage", chat_id=GROUP, count=2, timeout=20)
    assert "United States" in first.params["text"]
    assert "United States" in second.params["text"]


@pytest.mark.slow
async def test_a_lone_surrogate_in_a_question_is_answered_not_an_apology(
    api: BotApiServer,
    bot_settings: Callable[..., Settings],
    archive: Archive,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with bot(bot_settings(), archive):
        reply = await ask(api, "Who warned Russia \ud800 that Crocus City Hall was a target?")
    assert "United States" in reply["text"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_lone_surrogate_in_a_reply_is_sent_as_a_replacement_character(
    api: BotApiServer,
) -> None:
    async with Bot(api.token, base_url=api.base_url) as telegram:
        sent = await send_html(telegram, USER, esc("\ud800.exe is a .exe file."))
        await edit_html(telegram, USER, sent.message_id, "<b>\udc00 and 😀</b>")
    assert sent.text == "\ufffd.exe is a .exe file."
    assert api.sent[(USER, sent.message_id)]["text"] == "\ufffd and 😀"
    assert len(api.calls_to("sendMessage")) == 1  # not retried: the first try went through


# -- 13: upload names ----------------------------------------------------------------------------


def _document(name: str, size: int = 100) -> Document:
    return Document(file_id="f", file_unique_id="u", file_name=name, file_size=size)


def test_long_upload_names_are_cut_to_255_bytes_keeping_the_suffix() -> None:
    for stem in ("文" * 200, "😀a" * 100, "a" * 400, "é" * 300):
        name = corpus_name(f"{stem}.pdf")
        assert name.endswith(".pdf") and len(name) > len(".pdf")
        assert len(name.encode()) + len("-9999") <= 255, (len(name.encode()), name[:20])
        name.encode("utf-8")  # whole characters only
    checked = check_upload(_document("文" * 200 + ".md"), 1024 * 1024)
    assert isinstance(checked, Upload) and checked.name.endswith(".md")


def test_emoji_only_upload_names_get_a_generated_name() -> None:
    for original in ("😀😀.txt", "🇺🇦 🎉.md", "😀.PDF"):
        checked = check_upload(_document(original), 1024 * 1024)
        assert isinstance(checked, Upload), checked
        assert checked.name.startswith("upload-"), checked.name
        assert checked.name.endswith(original.rsplit(".", 1)[1])
    assert corpus_name("Report 😀.pdf").startswith("Report")
    assert corpus_name("😀") == "" and corpus_name("...") == ""


@pytest.mark.slow
async def test_uploads_with_emoji_or_very_long_names_are_added(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    api.add_file("emoji", "🦉🦉.txt", b"Owls of the northern forest hunt at dusk and dawn.")
    api.add_file("long", "北" * 150 + ".txt", b"The northern lighthouse was repainted in May.")
    settings = bot_settings()
    async with bot(settings, archive):
        api.push_document("emoji", chat_id=ADMIN)
        emoji = await api.wait_for("sendMessage", chat_id=ADMIN)
        api.push_document("long", chat_id=ADMIN)
        long = await api.wait_for("sendMessage", chat_id=ADMIN, count=2)
    assert emoji.params["text"].startswith("Added "), emoji.params["text"]
    assert long.params["text"].startswith("Added "), long.params["text"]
    names = sorted(p.name for p in settings.uploads_dir.iterdir())
    assert len(names) == 2 and all(len(n.encode()) <= 255 for n in names), names


# -- 13: transient Bot API failures are retried --------------------------------------------------


@dataclass
class FlakyBot:
    """Fails its first `failures` calls with `error`, then succeeds."""

    error: Exception
    failures: int
    calls: int = 0

    async def _call(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return SimpleNamespace(message_id=1)

    send_message = _call
    edit_message_text = _call


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "RETRY_DELAYS", (0.01, 0.02, 0.04))


@pytest.mark.parametrize(
    "error",
    [NetworkError("Bad Gateway"), TimedOut(), NetworkError("Internal Server Error (500)")],
)
async def test_transient_errors_are_retried_with_backoff(
    error: Exception, quick_retries: None
) -> None:
    flaky = FlakyBot(error, failures=3)
    assert await send_html(flaky, 1, "<b>answer</b>") is not None  # type: ignore[arg-type]
    assert flaky.calls == 4
    flaky = FlakyBot(error, failures=2)
    await edit_html(flaky, 1, 2, "<b>answer</b>")  # type: ignore[arg-type]
    assert flaky.calls == 3
    flaky = FlakyBot(error, failures=4)  # still failing after three retries: given up
    with pytest.raises(type(error)):
        await send_html(flaky, 1, "answer")  # type: ignore[arg-type]
    assert flaky.calls == 4


@pytest.mark.parametrize(
    "error", [BadRequest("Bad Request: chat not found"), Forbidden("Forbidden: bot was blocked")]
)
async def test_refusals_are_not_retried(error: Exception, quick_retries: None) -> None:
    flaky = FlakyBot(error, failures=1)
    with pytest.raises(type(error)):
        await send_html(flaky, 1, "answer")  # type: ignore[arg-type]
    assert flaky.calls == 1


def test_retry_delays_back_off() -> None:
    assert delivery.RETRY_DELAYS == (0.5, 1.0, 2.0)


@pytest.mark.slow
async def test_a_brief_bad_gateway_does_not_lose_the_answer(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    api.fail_next("sendMessage", 502, "Bad Gateway", times=2)
    async with bot(bot_settings(), archive):
        api.push_message(CROCUS_QUESTION, chat_id=USER)
        delivered = await api.wait_for("sendMessage", chat_id=USER, count=3)
    first = api.calls_to("sendMessage", chat_id=USER)[0]
    assert isinstance(delivered.result, dict) and "United States" in delivered.params["text"]
    assert delivered.at - first.at >= 1.5  # waited 0.5 s, then 1 s
    assert len(api.calls_to("sendMessage", chat_id=USER)) == 3


# -- 13: webhook bodies that are too big or too slow ---------------------------------------------


@asynccontextmanager
async def webhook_server(**kwargs: Any) -> AsyncIterator[WebhookServer]:
    application = SimpleNamespace(update_queue=asyncio.Queue(), bot=None)
    server = WebhookServer(application, "s3cret", "127.0.0.1", 0, "/hook", **kwargs)  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_webhook_body_over_1_mb_gets_413() -> None:
    async with webhook_server() as server, aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{server.port}/hook"
        body = b'{"update_id": 1, "x": "' + b"a" * (1024 * 1024 + 10) + b'"}'
        headers = {SECRET_HEADER: "s3cret", "Content-Type": "application/json"}
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 413


async def test_webhook_body_sent_too_slowly_gets_408() -> None:
    async with webhook_server(body_timeout=0.5) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(
                b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"{SECRET_HEADER}: s3cret\r\nContent-Length: 1000\r\n\r\n".encode()
                + b'{"update_id": 1'
            )
            await writer.drain()
            started = time.monotonic()
            status_line = await asyncio.wait_for(reader.readline(), 5)
            await asyncio.wait_for(reader.read(), 5)  # and the connection is closed
            held = time.monotonic() - started
        finally:
            writer.close()
    assert status_line.split()[1] == b"408", status_line
    assert held < 3, held
