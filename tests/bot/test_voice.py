"""Voice questions: the real bot (real Whisper tiny.en, real archive) against the fake Bot API
server, with recordings spoken by espeak-ng (tests/data/voice/make.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.services import Services
from bot.settings import Settings
from bot.worker import BoundedWorker, Busy
from retrieval import Archive
from tests.bot.conftest import USER, ask, bot
from tests.conftest import CROCUS_QUESTION, VOICE_DATA
from tests.fakes.botapi_server import BotApiServer, buttons

pytestmark = pytest.mark.slow

GROUP = -100555
WAIT = 300.0  # seconds a reply may take on a busy machine (a transcription takes ~1 s alone)
CROCUS = (VOICE_DATA / "crocus.ogg").read_bytes()


def recordings_left(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.suffix in (".ogg", ".oga") or "voice" in p.name]


async def test_a_voice_note_is_answered_showing_what_was_heard(
    api: BotApiServer,
    bot_settings: Callable[..., Settings],
    spoken_archive: Archive,
    tmp_path: Path,
) -> None:
    api.add_file("v1", "voice.ogg", CROCUS)
    async with bot(bot_settings(), spoken_archive):
        api.push_voice("v1", duration=4, chat_id=USER)
        reply = await api.wait_for("sendMessage", chat_id=USER, timeout=WAIT)
    html = reply.params["text"]
    first_line = html.split("\n")[0]
    assert first_line.startswith("🎤 “Who warned Russia") and "Crocus City Hall" in first_line
    assert "United States" in html.split("\n", 1)[1] and "[1]" in html
    assert "us-warned-russia-crocus-city-hall" in html
    assert {"[1]", "👍", "👎"} <= set(buttons(reply.result))
    assert api.calls_to("getFile", file_id="v1")
    assert not recordings_left(tmp_path)  # downloaded into memory only


async def test_a_voice_reply_to_the_bot_in_a_group_is_answered_other_voice_is_not(
    api: BotApiServer, bot_settings: Callable[..., Settings], spoken_archive: Archive
) -> None:
    api.add_file("v1", "voice.ogg", CROCUS)
    group = {"chat_id": GROUP, "chat_type": "supergroup", "user_id": USER}
    async with bot(bot_settings(), spoken_archive):
        chatter = api.push_voice("v1", duration=4, **group)  # not for the bot: ignored
        await api.wait_until_fetched(chatter)
        first = await ask(api, f"/ask {CROCUS_QUESTION}", **group)
        api.push_voice("v1", duration=4, reply_to=first, **group)
        reply = await api.wait_for("sendMessage", chat_id=GROUP, count=2, timeout=WAIT)
    assert reply.params["text"].startswith("🎤 “")
    assert len(api.calls_to("getFile")) == 1


async def test_recordings_that_cannot_be_heard_get_clear_replies(
    api: BotApiServer, bot_settings: Callable[..., Settings], spoken_archive: Archive
) -> None:
    api.add_file("long", "long.ogg", CROCUS)
    api.add_file("text", "notes.ogg", b"These are my notes, not a recording." * 20)
    api.add_file("cut", "cut.ogg", CROCUS[: len(CROCUS) // 3])
    api.add_file("big", "big.mp3", bytes(3 * 1024 * 1024))
    async with bot(bot_settings(), spoken_archive):
        replies = []
        for n, (file_id, duration, kind) in enumerate(
            [
                ("long", 61, "voice"),
                ("text", 3, "voice"),
                ("cut", 4, "voice"),
                ("big", 50, "audio"),
            ],
            start=1,
        ):
            api.push_voice(file_id, duration=duration, kind=kind, chat_id=USER)
            call = await api.wait_for("sendMessage", chat_id=USER, count=n, timeout=WAIT)
            replies.append(call.params["text"])
    too_long, not_audio, cut, too_big = replies
    assert too_long.startswith("That recording is 61 s long; I transcribe up to 60 s.")
    assert not_audio.startswith("I could not read that as audio.")
    assert cut.startswith("That recording arrived incomplete (1 s of 4 s).")
    assert too_big.startswith("That recording is 3.0 MB; I take up to 2.3 MB (60 s).")
    fetched = {c.params["file_id"] for c in api.calls_to("getFile")}
    assert fetched == {"text", "cut"}  # too long and too big were refused before downloading


async def test_an_audio_file_sent_as_a_document_is_a_spoken_question(
    api: BotApiServer, bot_settings: Callable[..., Settings], spoken_archive: Archive
) -> None:
    api.add_file("doc", "question.ogg", CROCUS)
    async with bot(bot_settings(), spoken_archive):
        api.push_voice("doc", kind="document", chat_id=USER)
        reply = await api.wait_for("sendMessage", chat_id=USER, timeout=WAIT)
    assert reply.params["text"].startswith("🎤 “Who warned Russia")


async def test_voice_notes_count_against_the_rate_limit_before_download(
    api: BotApiServer, bot_settings: Callable[..., Settings], spoken_archive: Archive
) -> None:
    api.add_file("v1", "voice.ogg", CROCUS)
    async with bot(bot_settings(rate_limit_per_minute=1), spoken_archive):
        await ask(api, CROCUS_QUESTION)
        api.push_voice("v1", duration=4, chat_id=USER)
        limited = await api.wait_for("sendMessage", chat_id=USER, count=2)
    assert limited.params["text"].startswith("You are asking faster than 1 questions a minute.")
    assert not api.calls_to("getFile")


async def test_a_full_transcriber_says_busy_and_text_questions_are_still_answered(
    api: BotApiServer, bot_settings: Callable[..., Settings], spoken_archive: Archive
) -> None:
    api.add_file("v1", "voice.ogg", CROCUS)
    release = threading.Event()
    async with bot(bot_settings(voice_queue=0), spoken_archive) as application:
        services: Services = application.bot_data.services
        holding = asyncio.ensure_future(services.transcriber.run(release.wait))
        await asyncio.sleep(0)
        assert services.transcriber.full
        try:
            api.push_voice("v1", duration=4, chat_id=USER)
            busy = await api.wait_for("sendMessage", chat_id=USER)
            answer = await ask(api, CROCUS_QUESTION, chat_id=USER + 1)
            assert not release.is_set()  # answered while the transcriber was still taken
        finally:
            release.set()
            await holding
    assert busy.params["text"].startswith("I am busy transcribing other voice notes.")
    assert not api.calls_to("getFile")
    assert "United States" in answer["text"]


async def test_bounded_worker_runs_one_job_at_a_time_and_refuses_beyond_its_line() -> None:
    worker = BoundedWorker(capacity=1)
    gate = threading.Event()
    order: list[str] = []

    def job(name: str) -> str:
        gate.wait()
        order.append(name)
        return name

    first = asyncio.ensure_future(worker.run(lambda: job("first")))
    second = asyncio.ensure_future(worker.run(lambda: job("second")))
    await asyncio.sleep(0)
    with pytest.raises(Busy):
        await worker.run(lambda: job("third"))
    gate.set()
    assert await asyncio.gather(first, second) == ["first", "second"]
    assert order == ["first", "second"] and worker.accepted == 0
    assert await worker.run(lambda: "again") == "again"
    worker.close()
