"""Admins add documents by sending them to the bot: the file is checked, saved into the
corpus folder and ingested, and the admin is told what was added (or exactly why not).

A file is parsed before it enters the corpus folder, and a file it replaces is restored if
the ingest fails, so a bad upload never leaves the corpus holding something unreadable.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from telegram import Document as TelegramDocument
from telegram import Message
from telegram.ext import ContextTypes

from bot.delivery import reply_html, typing
from bot.render import esc, shorten
from bot.services import services
from retrieval import Archive, LoadError
from retrieval.ingest.loaders import SUFFIXES
from retrieval.ingest.loaders import load as load_document

log = logging.getLogger(__name__)

TELEGRAM_DOWNLOAD_LIMIT_MB = 20.0  # bots cannot download larger files through the Bot API
ACCEPTED = "txt, md, html, pdf or docx"
NOT_ADMIN = (
    "Only the bot's admins can add documents to the archive. To ask a question, send it as text."
)

_MB = 1024 * 1024
_UNSAFE = re.compile(r"[^\w.\- ()]+", re.UNICODE)


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


def corpus_name(file_name: str) -> str:
    """A safe file name for the corpus folder: no folders, no hidden names, no odd bytes."""
    name = unicodedata.normalize("NFC", file_name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" ._")
    stem, suffix = os.path.splitext(name)
    return f"{stem[:120]}{suffix[:10]}" if stem else ""


def add_to_archive(archive: Archive, downloaded: Path, target: Path, max_bytes: int) -> str:
    """Move a downloaded file into the corpus folder and ingest it; what happened, as HTML.

    Blocking (parsing, embedding): run it in a worker thread.
    """
    backup = target.with_name(f".replaced-{secrets.token_hex(4)}-{target.name}")
    try:
        try:
            document = load_document(downloaded, target.name, max_bytes)
        except LoadError as exc:
            return f"Could not add {esc(target.name)}: {esc(str(exc))}."
        if not document.text.strip():
            return f"Could not add {esc(target.name)}: no text could be extracted from it."
        replaced = target.exists()
        if replaced:
            os.replace(target, backup)
        os.replace(downloaded, target)
        report = archive.ingest([target])
        if report.failed:
            reason = report.failed[0][1]
            target.unlink(missing_ok=True)
            if replaced:
                os.replace(backup, target)
            return f"Could not add {esc(target.name)}: {esc(reason)}."
        title = esc(shorten(document.title, 200))
        total = archive.stats(newest=0).documents
        if report.added:
            verb = "Added"
        elif report.changed:
            verb = "Updated"
        else:
            return f"“{title}” ({esc(target.name)}) is already in the archive, unchanged."
        return (
            f"{verb} “{title}” ({esc(target.name)}): {report.chunks_written} passages indexed."
            f" The archive now holds {total:,} document{'' if total == 1 else 's'}."
        )
    finally:
        downloaded.unlink(missing_ok=True)
        backup.unlink(missing_ok=True)


async def receive_document(context: ContextTypes.DEFAULT_TYPE, message: Message) -> None:
    """Check, download, save and ingest a document sent by an admin; report the outcome."""
    s = services(context)
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
    corpus = s.settings.corpus_dir
    corpus.mkdir(parents=True, exist_ok=True)
    downloaded = corpus / f".upload-{secrets.token_hex(6)}{Path(checked.name).suffix.lower()}"
    thread_id = message.message_thread_id if message.is_topic_message else None
    log.info("admin %s adds %s (%s bytes)", user.id, checked.name, checked.size)
    async with typing(context.bot, message.chat_id, thread_id, s.typing_every):
        try:
            telegram_file = await context.bot.get_file(message.document.file_id)
            await telegram_file.download_to_drive(downloaded)
        except BaseException:
            downloaded.unlink(missing_ok=True)
            raise
        outcome = await asyncio.to_thread(
            add_to_archive, s.archive, downloaded, corpus / checked.name, max_bytes
        )
    await reply_html(context.bot, message, outcome)
