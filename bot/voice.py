"""Voice questions: a voice note or an audio message (or an audio file sent as a document) in
a private chat, or in a group as a reply to the bot, is answered like a typed question, the
reply showing first what was heard (🎤 “…”) so that a mishearing is seen.

The note passes the same gate as text (access, the per-user rate limit) and is checked for
length and size before anything is downloaded; then it is downloaded through the Bot API
(getFile) into memory, never to disk, transcribed in the bot's one transcription worker
(`bot.worker.BoundedWorker`: one at a time, a short line, "busy" beyond it) and dropped.
What cannot be transcribed (not audio, cut short, too long, silent, not English) gets a
clear reply from the application's error handler, as every `SpeechError` does.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import warnings

from telegram import Audio, Document, Message, Update, Voice
from telegram.warnings import PTBDeprecationWarning

from bot.answering import may_ask, reply_with_answer
from bot.delivery import reply_html, typing
from bot.render import esc
from bot.services import BotContext
from bot.worker import BUSY
from retrieval.speech.audio import too_long

log = logging.getLogger(__name__)

# The largest recording downloaded: this many bytes a second of the longest note allowed
# (320 kbit/s, the highest common bitrate of an MP3; a voice note needs a tenth of it), and
# never more than bots may download at all.
BYTES_PER_SECOND = 40_000
MIN_BYTES = 1024 * 1024
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024
TOO_BIG = (
    "That recording is {mb:.1f} MB; I take up to {limit:.1f} MB ({seconds:.0f} s)."
    " Please send a shorter voice note, or type the question."
)

Recording = Voice | Audio | Document


def recording_of(message: Message) -> Recording | None:
    """The voice note, audio message or audio document a message carries, if any."""
    if message.voice is not None:
        return message.voice
    if message.audio is not None:
        return message.audio
    document = message.document
    if document is not None and (document.mime_type or "").startswith("audio/"):
        return document
    return None


def seconds_of(recording: Recording) -> float | None:
    """The length the sender's app declared (documents declare none)."""
    if isinstance(recording, Document):
        return None
    with warnings.catch_warnings():  # PTB 22 warns that durations become timedeltas
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        duration = recording.duration
    if isinstance(duration, dt.timedelta):
        return duration.total_seconds()
    if isinstance(duration, int | float):
        return float(duration)
    return None


def max_bytes(max_seconds: float) -> int:
    """The download cap for recordings of up to `max_seconds`."""
    return min(TELEGRAM_DOWNLOAD_LIMIT, max(MIN_BYTES, int(max_seconds * BYTES_PER_SECOND)))


async def receive_voice(
    update: Update, context: BotContext, message: Message, recording: Recording
) -> None:
    """Check, download, transcribe and answer a spoken question (the sender is admitted and
    the message addressed to the bot)."""
    s = context.services
    max_seconds = s.settings.voice_max_seconds
    declared = seconds_of(recording)
    cap = max_bytes(max_seconds)
    if declared is not None and declared > max_seconds:
        await reply_html(context.bot, message, esc(str(too_long(declared, max_seconds))))
        return
    if recording.file_size is not None and recording.file_size > cap:
        await _too_big(context, message, recording.file_size, cap, max_seconds)
        return
    if not await may_ask(update, context):
        return
    if s.transcriber.full:
        log.info("chat %s: a voice note arrived while the transcriber is busy", message.chat_id)
        await reply_html(context.bot, message, esc(BUSY))
        return
    thread_id = message.message_thread_id if message.is_topic_message else None
    async with typing(context.bot, message.chat_id, thread_id, s.timing.typing_every):
        telegram_file = await context.bot.get_file(recording.file_id)
        if telegram_file.file_size is not None and telegram_file.file_size > cap:
            await _too_big(context, message, telegram_file.file_size, cap, max_seconds)
            return
        data = await telegram_file.download_as_bytearray()  # in memory only, never kept
        if len(data) > cap:
            await _too_big(context, message, len(data), cap, max_seconds)
            return
        job = functools.partial(s.archive.transcribe, data, declared)
        transcript = await s.transcriber.run(job)
    await reply_with_answer(update, context, transcript.text, heard=transcript.text)


async def _too_big(
    context: BotContext, message: Message, size: int, cap: int, max_seconds: float
) -> None:
    mb = 1024 * 1024
    text = TOO_BIG.format(mb=size / mb, limit=cap / mb, seconds=max_seconds)
    await reply_html(context.bot, message, esc(text))
