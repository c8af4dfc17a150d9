"""Admins add documents by sending them to the bot: the file is checked, saved into the
uploads folder (`DATA_DIR/uploads`, ingested beside the corpus folder, which may be
read-only) and ingested, and the admin is told what was added (or exactly why not).

A file the ingest cannot read is removed again, so a bad upload never leaves the archive
holding something unreadable; an upload never replaces another file.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from telegram import Document as TelegramDocument
from telegram import Message

from bot.delivery import reply_html, typing
from bot.render import esc, shorten
from bot.services import BotContext
from retrieval import Archive, CitebotError, DataNotWritable
from retrieval.ingest.loaders import SUFFIXES

log = logging.getLogger(__name__)

TELEGRAM_DOWNLOAD_LIMIT_MB = 20.0  # bots cannot download larger files through the Bot API
ACCEPTED = "txt, md, html, pdf or docx"
NOT_ADMIN = (
    "Only the bot's admins can add documents to the archive. To ask a question, send it as text."
)

_MB = 1024 * 1024
DOWNLOAD_PREFIX = ".upload-"  # a file being downloaded (hidden: no ingest sees it)
STALE_DOWNLOAD_SECONDS = 3600.0  # older, it is a download a stopped bot left
_UNSAFE = re.compile(r"[^\w.\- ()]+", re.UNICODE)
# File systems allow 255 bytes a name; `free_name` may add "-2", "-3", … to it.
MAX_NAME_BYTES = 255 - len("-9999")


@dataclass(frozen=True)
class Upload:
    """A document an admin sent: its name in the corpus folder and its declared size."""

    name: str
    size: int | None


def check_upload(document: TelegramDocument, max_bytes: int) -> Upload | str:
    """The upload if it may be added; otherwise the reason it may not, for the user."""
    original = document.file_name or ""
    name = corpus_name(original)
    suffix = Path(name).suffix.lower()
    if not name or suffix not in SUFFIXES:
        shown = esc(shorten(original, 80)) or "This file"
        kind = f"a {esc(suffix)} file" if suffix else "a file without an extension"
        return f"{shown} is {kind}. I can add {ACCEPTED} files."
    if document.file_size is not None and document.file_size > max_bytes:
        return (
            f"{esc(name)} is {document.file_size / _MB:.1f} MB;"
            f" the limit is {max_bytes / _MB:.0f} MB."
        )
    return Upload(name, document.file_size)


def corpus_name(file_name: str, now: dt.datetime | None = None) -> str:
    """A safe file name for the corpus folder: no folders, no hidden names, no odd bytes, at
    most `MAX_NAME_BYTES` bytes of UTF-8 with the suffix kept. A name with a suffix but
    nothing usable before it (only emoji, say) becomes `upload-<date and time><suffix>`."""
    name = unicodedata.normalize("NFC", file_name).replace("\\", "/").rsplit("/", 1)[-1]
    stem, suffix = os.path.splitext(name.strip())
    suffix = _UNSAFE.sub("_", suffix)[:10].rstrip(" .")
    stem = _UNSAFE.sub("_", stem).lstrip(" ._").rstrip(" .")[:120]
    if not stem.strip("_ ()-"):
        if not suffix:
            return ""
        stem = f"upload-{(now or dt.datetime.now(dt.UTC)):%Y-%m-%d-%H%M%S}"
    room = MAX_NAME_BYTES - len(suffix.encode())
    stem = stem.encode()[:room].decode(errors="ignore").rstrip(" .")
    return f"{stem}{suffix}"


def add_to_archive(archive: Archive, downloaded: Path, folder: Path, name: str) -> str:
    """Move a downloaded file into the uploads folder and ingest it (parsed once, by the
    ingest); what happened, as HTML. A different file under a name already taken is kept
    beside it under a new name. The same file again is ingested too: the ingest calls it
    unchanged only if the index holds it (a bot killed during its first ingest saved it but
    indexed nothing), and adds it otherwise.

    Blocking (parsing, embedding): run it in a worker thread.
    """
    try:
        target = folder / name
        again = target.exists() and target.read_bytes() == downloaded.read_bytes()
        if not again:
            target = free_name(folder, name)
            os.replace(downloaded, target)
        report = archive.ingest([target])
        if report.unchanged:
            return f"{esc(name)} is already in the archive, unchanged."
        if report.failed or not (report.added or report.changed):
            target.unlink(missing_ok=True)
            reason = report.failed[0][1] if report.failed else "it could not be indexed"
            return f"Could not add {esc(name)}: {esc(reason)}."
        added = (report.added or report.changed)[0]
        title = esc(shorten(report.titles.get(added, target.name), 200))
        total = archive.stats(newest=0).documents
        renamed = (
            f", kept as {esc(target.name)} beside the earlier {esc(name)}"
            if target.name != name
            else ""
        )
        return (
            f"Added “{title}” ({esc(name)}{renamed}): {report.chunks_written} passages indexed."
            f" The archive now holds {total:,} document{'' if total == 1 else 's'}."
        )
    finally:
        downloaded.unlink(missing_ok=True)


def complete_uploads(archive: Archive, folder: Path) -> None:
    """Ingest the uploads folder: uploads saved but never indexed (a bot killed during an
    upload's ingest) are added; indexed ones cost a hash each. Partial downloads a killed bot
    left (`.upload-…` files over an hour old) are deleted. Blocking: run it in a thread."""
    if not folder.is_dir():
        return
    for partial in folder.glob(f"{DOWNLOAD_PREFIX}*"):
        with contextlib.suppress(OSError):
            if time.time() - partial.stat().st_mtime > STALE_DOWNLOAD_SECONDS:
                partial.unlink()
                log.info("deleted %s, a download a stopped bot left unfinished", partial)
    try:
        report = archive.ingest([folder])
    except CitebotError as exc:  # a read-only DATA_DIR, another writer holding on too long…
        log.warning("could not complete interrupted uploads: %s", exc)
        return
    if report.added or report.changed:
        log.warning(
            "completed %d interrupted uploads: %s",
            len(report.added) + len(report.changed),
            ", ".join(report.added + report.changed),
        )
    for name, reason in report.failed:
        log.warning("an interrupted upload could not be added: %s: %s", name, reason)


async def on_start_up(context: BotContext) -> None:
    """The bot's first job: complete the uploads a stopped bot left (see `complete_uploads`)."""
    s = context.services
    await asyncio.to_thread(complete_uploads, s.archive, s.settings.uploads_dir)


def free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem-2.ext`, `-3`, … if that is taken."""
    stem, suffix = os.path.splitext(name)
    candidate, n = folder / name, 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}{suffix}"
    return candidate


async def receive_document(context: BotContext, message: Message) -> None:
    """Check, download, save and ingest a document sent by an admin; report the outcome."""
    s = context.services
    user = message.from_user
    if user is None or message.document is None:
        return
    if not s.access.is_admin(user.id):
        await reply_html(context.bot, message, esc(NOT_ADMIN))
        return
    limit_mb = min(s.settings.max_upload_mb, TELEGRAM_DOWNLOAD_LIMIT_MB)
    max_bytes = int(limit_mb * _MB)
    checked = check_upload(message.document, max_bytes)
    if isinstance(checked, str):
        await reply_html(context.bot, message, checked)
        return
    folder = s.settings.uploads_dir
    suffix = Path(checked.name).suffix.lower()
    downloaded = folder / f"{DOWNLOAD_PREFIX}{secrets.token_hex(6)}{suffix}"
    thread_id = message.message_thread_id if message.is_topic_message else None
    log.info("admin %s adds %s (%s bytes)", user.id, checked.name, checked.size)
    async with typing(context.bot, message.chat_id, thread_id, s.timing.typing_every):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            telegram_file = await context.bot.get_file(message.document.file_id)
            await telegram_file.download_to_drive(downloaded)
        except OSError as exc:  # a read-only DATA_DIR is said so (handlers.on_error)
            downloaded.unlink(missing_ok=True)
            denied = DataNotWritable.of(folder, exc)
            if denied is not None:
                raise denied from exc
            raise
        except BaseException:
            downloaded.unlink(missing_ok=True)
            raise
        outcome = await asyncio.to_thread(
            add_to_archive, s.archive, downloaded, folder, checked.name
        )
    await reply_html(context.bot, message, outcome)
