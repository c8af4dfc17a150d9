"""An index records the embedder that built it and is never mixed with another's vectors: the
archive refuses, the CLI and the bot say why and how to fix it (`citebot ingest --rebuild`),
and the rebuild does fix it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.handlers import REBUILD_NEEDED, user_message
from bot.settings import Settings
from retrieval import IndexMismatch
from retrieval.archive import Archive
from retrieval.index.embedding import Embedder, EmbedderIdentity, SentenceTransformerEmbedder
from tests.conftest import CROCUS_QUESTION
from tests.fakes.botapi_server import BotApiServer

pytestmark = pytest.mark.slow  # the model on ONNX Runtime and on torch


def recorded(archive: Archive) -> EmbedderIdentity | None:
    return EmbedderIdentity.from_json(archive.store.embedder())


def test_an_ingest_records_its_embedder(archive: Archive, embedder: Embedder) -> None:
    onnx_int8 = EmbedderIdentity("all-MiniLM-L6-v2", "onnx", "int8", 384)
    assert recorded(archive) == embedder.identity == onnx_int8


def test_another_embedder_can_neither_search_nor_add_and_is_told_to_rebuild(
    archive: Archive,
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    torch_embedder: SentenceTransformerEmbedder,
) -> None:
    other = Archive(make_settings(), embedder=torch_embedder)
    with pytest.raises(IndexMismatch) as asked:
        other.search(CROCUS_QUESTION)
    message = str(asked.value)
    assert "all-MiniLM-L6-v2 on onnx int8, 384 dimensions" in message  # what built it
    assert "all-MiniLM-L6-v2 on torch fp32, 384 dimensions" in message  # what is set
    assert "citebot ingest --rebuild" in message
    chunks = other.store.count()
    (corpus_dir / "new.txt").write_text("A new story about the harbour.\n", encoding="utf-8")
    with pytest.raises(IndexMismatch):
        other.ingest()
    assert other.store.count() == chunks  # nothing of the other embedder was written
    assert recorded(other) == recorded(archive) != torch_embedder.identity


def test_rebuild_embeds_everything_again_with_the_configured_embedder(
    archive: Archive,
    make_settings: Callable[..., Settings],
    torch_embedder: SentenceTransformerEmbedder,
) -> None:
    chunks = archive.store.count()
    other = Archive(make_settings(), embedder=torch_embedder)
    report = other.rebuild()
    assert report.chunks_embedded == chunks == other.store.count()
    assert recorded(other) == torch_embedder.identity
    assert not other.ask(CROCUS_QUESTION).answer.refused
    with pytest.raises(IndexMismatch):  # and now the first one is the other embedder
        archive.search(CROCUS_QUESTION)


def test_an_index_from_before_identities_counts_as_built_on_torch_fp32(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: Embedder,
    torch_embedder: SentenceTransformerEmbedder,
) -> None:
    old = Archive(make_settings(), embedder=torch_embedder)
    old.ingest()
    old.store.set_embedder("")  # as every index written before this release
    with pytest.raises(IndexMismatch, match="built before citebot recorded its embedder"):
        Archive(make_settings(), embedder=embedder).search(CROCUS_QUESTION)
    same = Archive(make_settings(), embedder=torch_embedder)
    assert not same.ask(CROCUS_QUESTION).answer.refused  # torch fp32 may go on using it
    (corpus_dir / "new.txt").write_text("A new story about the harbour.\n", encoding="utf-8")
    same.ingest()
    assert recorded(same) == torch_embedder.identity  # and records what it is on writing


def test_an_empty_store_takes_any_embedder(
    make_settings: Callable[..., Settings], torch_embedder: SentenceTransformerEmbedder
) -> None:
    archive = Archive(make_settings(), embedder=torch_embedder)
    assert archive.ask(CROCUS_QUESTION).answer.refused  # nothing there, nothing to mix
    assert archive.store.embedder() == ""


def cli_environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))


def test_the_cli_says_what_built_the_index_and_how_to_fix_it(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    torch_embedder: SentenceTransformerEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings()
    Archive(settings, embedder=torch_embedder).ingest()
    cli_environment(monkeypatch, settings)  # and the default embedder: onnx int8
    for command in (["ask", CROCUS_QUESTION], ["ingest"]):
        # (an ingest that embeds nothing mixes nothing, and goes through: so add a file)
        (corpus_dir / "new.txt").write_text("A new story about the harbour.\n", encoding="utf-8")
        assert main(command) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: the index was built with all-MiniLM-L6-v2 on torch fp32")
        assert "`citebot ingest --rebuild`" in err and "Traceback" not in err
    assert main(["ingest", "--rebuild", "--json"]) == 0
    assert main(["ask", CROCUS_QUESTION]) == 0
    assert "United States" in capsys.readouterr().out


def test_the_bot_tells_its_users_that_the_index_needs_rebuilding() -> None:
    assert user_message(IndexMismatch("built with another embedder")) == REBUILD_NEEDED
    assert "citebot ingest --rebuild" in REBUILD_NEEDED


@pytest.fixture
async def api() -> AsyncIterator[BotApiServer]:
    async with BotApiServer() as server:
        yield server


async def test_the_bot_does_not_start_on_another_embedders_index(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    torch_embedder: SentenceTransformerEmbedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    api: BotApiServer,
) -> None:
    settings = make_settings()
    await asyncio.to_thread(Archive(settings, embedder=torch_embedder).ingest)
    cli_environment(monkeypatch, settings)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
    assert await asyncio.to_thread(main, ["serve"]) == 1
    err = capsys.readouterr().err
    assert "error: the index was built with all-MiniLM-L6-v2 on torch fp32" in err
    assert "`citebot ingest --rebuild`" in err and "Traceback" not in err
