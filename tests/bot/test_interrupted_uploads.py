"""An upload interrupted by a killed bot (issue 20, item 4): the file was saved in the uploads
folder but its ingest never finished. "Unchanged" means "in the index", not "on disk": the same
file sent again is added, and the bot's start-up completes such uploads by itself."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import pytest

from bot.settings import Settings
from bot.uploads import add_to_archive
from retrieval import Archive
from tests.bot.conftest import bot
from tests.fakes.botapi_server import BotApiServer

pytestmark = pytest.mark.slow

OWLS = b"Snowy owls of the northern tundra hunt lemmings at dusk and at dawn."


def titles(archive: Archive) -> set[str]:
    archive.refresh()
    return {d.title for d in archive.lexical.documents.values()}


def interrupted_upload(settings: Settings) -> None:
    """The uploads folder as a bot killed during an upload's ingest leaves it: the file saved,
    nothing of it indexed; and a download cut short, two hours ago."""
    settings.uploads_dir.mkdir(parents=True)
    (settings.uploads_dir / "owls.txt").write_bytes(OWLS)
    partial = settings.uploads_dir / ".upload-0123456789ab.pdf"
    partial.write_bytes(b"%PDF-1.4 cut short")
    two_hours_ago = time.time() - 7200
    os.utime(partial, (two_hours_ago, two_hours_ago))


def test_the_same_file_sent_again_is_added_not_called_unchanged(
    make_settings: Callable[..., Settings], archive: Archive
) -> None:
    settings = make_settings()
    interrupted_upload(settings)
    folder = settings.uploads_dir

    def send_again() -> str:
        downloaded = folder / ".upload-5555aaaa5555.txt"
        downloaded.write_bytes(OWLS)
        return add_to_archive(archive, downloaded, folder, "owls.txt")

    first = send_again()
    assert first.startswith("Added “Owls” (owls.txt): 1 passages indexed."), first
    assert "Owls" in titles(archive)
    second = send_again()
    assert second == "owls.txt is already in the archive, unchanged."  # now it is indexed
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".txt") == ["owls.txt"]


async def test_start_up_completes_interrupted_uploads(
    api: BotApiServer, bot_settings: Callable[..., Settings], archive: Archive
) -> None:
    settings = bot_settings()
    interrupted_upload(settings)
    fresh = settings.uploads_dir / ".upload-ba9876543210.txt"  # another bot's download, now
    fresh.write_bytes(b"in progress")
    async with bot(settings, archive):
        deadline = time.monotonic() + 300
        while "Owls" not in titles(archive):
            assert time.monotonic() < deadline, "the interrupted upload was not completed"
            await asyncio.sleep(0.2)
    names = sorted(p.name for p in settings.uploads_dir.iterdir())
    assert names == [fresh.name, "owls.txt"]  # the old partial download is gone
