"""Faults citebot must survive: the Chroma server going away (or hanging) mid-conversation,
kill -9 during an ingest, damaged index files, a full disk under the feedback file. Real
processes, real files, real model; the bot runs against the fake Bot API server."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application
from bot.serving import Polling, running
from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.errors import IndexUnavailable
from retrieval.index.embedding import Embedder
from retrieval.index.lexical import LexicalIndex
from retrieval.text import terms
from tests.conftest import CROCUS_QUESTION
from tests.fakes.botapi_server import BotApiServer, buttons
from tests.fakes.chroma_server import ChromaServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A server of this test's own: the test stops, pauses and restarts it."""
    with ChromaServer(tmp_path / "chroma-server") as server:
        yield server


def remote_settings(
    make_settings: Callable[..., Settings], server: ChromaServer, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "chroma_host": server.host,
        "chroma_port": server.port,
        "chroma_timeout": 2.0,
        "index_refresh_seconds": 0,
    }
    values.update(overrides)
    return make_settings(**values)


def citebot(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`citebot …` in a child process, the way a user or a container runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHROMA_", "CHUNK_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1",
        }
    )
    env.update(extra or {})
    return env


# -- the Chroma server goes away ----------------------------------------------------------------


def test_stopped_server_means_temporarily_unavailable_until_it_returns(
    chroma_server: ChromaServer,
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: Embedder,
) -> None:
    settings = remote_settings(make_settings, chroma_server)
    archive = Archive(settings, embedder=embedder)
    archive.ingest()
    assert not archive.ask(CROCUS_QUESTION).answer.refused
    # A second reader that does not look for changes: its failure comes from the query itself.
    quiet = Archive(
        remote_settings(make_settings, chroma_server, index_refresh_seconds=3600),
        embedder=embedder,
    )

    chroma_server.stop()
    for reader in (archive, quiet):
        with pytest.raises(IndexUnavailable, match="temporarily unavailable"):
            _ = reader.ask(CROCUS_QUESTION).answer
    with pytest.raises(IndexUnavailable, match=f"{chroma_server.host}:{chroma_server.port}"):
        Archive(settings, embedder=embedder)
    with pytest.raises(IndexUnavailable):
        archive.search(CROCUS_QUESTION)
    assert archive.stats().chunks == len(archive.lexical)  # last known contents, no error

    chroma_server.start()
    for reader in (archive, quiet):
        answer = reader.ask(CROCUS_QUESTION).answer
        assert not answer.refused and "United States" in answer.text
    assert Archive(settings, embedder=embedder).lexical.ids == archive.lexical.ids


def test_a_hung_server_times_out_instead_of_hanging_the_bot(
    chroma_server: ChromaServer,
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: Embedder,
) -> None:
    archive = Archive(remote_settings(make_settings, chroma_server), embedder=embedder)
    archive.ingest()
    chroma_server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(IndexUnavailable, match="temporarily unavailable"):
            _ = archive.ask(CROCUS_QUESTION).answer
        assert time.monotonic() - started < 30  # bounded by CHROMA_TIMEOUT, not forever
    finally:
        chroma_server.resume()
    assert not archive.ask(CROCUS_QUESTION).answer.refused


def test_a_server_that_lost_its_data_is_reconnected_to(
    chroma_server: ChromaServer,
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: Embedder,
) -> None:
    """The collection the client held no longer exists: reconnect, see an empty index."""
    archive = Archive(remote_settings(make_settings, chroma_server), embedder=embedder)
    archive.ingest()
    chroma_server.stop()
    fresh = ChromaServer(chroma_server.path.with_name("wiped"), port=chroma_server.port)
    with fresh:
        with pytest.raises(IndexUnavailable):
            _ = archive.ask(
                CROCUS_QUESTION
            ).answer  # the old collection id is unknown to this server
        assert archive.ask(CROCUS_QUESTION).answer.refused  # reconnected: the archive is empty now
        assert len(archive.lexical) == 0
        archive.ingest()
        assert not archive.ask(CROCUS_QUESTION).answer.refused


# -- readers never crash on a store that changes under them -----------------------------------


def test_hits_whose_chunks_were_just_deleted_are_skipped(
    chroma_server: ChromaServer,
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: Embedder,
) -> None:
    writer = Archive(remote_settings(make_settings, chroma_server), embedder=embedder)
    writer.ingest()
    reader = Archive(
        remote_settings(make_settings, chroma_server, index_refresh_seconds=3600),
        embedder=embedder,
    )
    stale_ids = set(reader.lexical.ids)
    (corpus_dir / "us-warned-russia-crocus-city-hall.txt").unlink()
    writer.ingest()
    assert writer.store.count() == 0

    # The reader's BM25 still names the deleted chunks; search must skip them, not crash.
    assert reader.search(CROCUS_QUESTION) == []
    assert reader.ask(CROCUS_QUESTION).answer.refused
    assert reader.refresh()
    assert set(reader.lexical.ids) == set() != stale_ids


# -- kill -9 during an ingest ---------------------------------------------------------------------


def write_corpus(folder: Path, files: int) -> None:
    """Small dated news items, each with a code word found in no other file."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        body = "\n\n".join(
            f"Paragraph {p} of bulletin {n}: the harbour office logged vessel"
            f" codeword{n}x{p} arriving with {n * 7 + p} crates of cargo at dawn."
            for p in range(3)
        )
        (folder / f"bulletin-{n:03d}.md").write_text(
            f"---\ntitle: Harbour bulletin {n}\ndate: 2024-05-{1 + n % 28:02d}\n---\n{body}\n",
            encoding="utf-8",
        )


def manifest_rows(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_kill_9_during_ingest_then_rerun_leaves_no_duplicates_and_no_loss(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    files = 120
    write_corpus(tmp_path / "corpus", files)
    env = {"CHUNK_MAX_CHARS": "200", "INGEST_COMMIT_CHUNKS": "48", "EMBEDDING_BATCH_SIZE": "8"}
    manifest = tmp_path / "data" / "manifest.sqlite3"

    child = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "ingest"],
        cwd=tmp_path,
        env=child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while manifest_rows(manifest) == 0 and child.poll() is None:
            assert time.monotonic() < deadline, "the ingest made no progress"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        _, err = child.communicate(timeout=60)
    recorded = manifest_rows(manifest)
    assert child.returncode == -signal.SIGKILL, f"ingest ended before the kill: {err!r}"
    assert 0 < recorded < files, "the kill did not land mid-way"

    rerun = citebot(["ingest", "--json"], cwd=tmp_path, env=env)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert len(report["unchanged"]) == recorded
    assert len(report["added"]) == files - recorded

    archive = Archive(make_settings(chunk_max_chars=200), embedder=embedder)
    clean = Archive(make_settings(chunk_max_chars=200, data_dir=tmp_path / "clean"), embedder)
    clean.ingest()

    chunks = list(archive.store.scan())
    assert len(chunks) == len({c.id for c in chunks}) == archive.store.count()
    assert len({(c.source, c.position) for c in chunks}) == len(chunks)  # no passage twice
    assert {c.id for c in chunks} == clean.store.ids()  # nothing lost, nothing extra
    assert sorted(archive.lexical.ids) == sorted(clean.lexical.ids)
    assert archive.lexical.generation == archive.store.generation()

    # Every file is findable on both sides of the index: by its code word (BM25) and by the
    # meaning of its passage (the vector stored for it).
    found = []
    for n in range(files):
        best = archive.lexical.search(terms(f"codeword{n}x1"), k=1)
        assert best, n
        found.extend(archive.store.get([best[0][0]]))
        assert found[-1].source == f"corpus/bulletin-{n:03d}.md"
    vecs = embedder.embed([c.indexed_text() for c in found])
    for chunk, vec in zip(found, vecs, strict=True):
        assert archive.store.nearest(vec, k=1)[0][0] == chunk.id


# -- damaged index files ------------------------------------------------------------------------


def test_a_corrupt_lexical_snapshot_is_rebuilt_from_the_store(
    archive: Archive, make_settings: Callable[..., Settings], embedder: Embedder
) -> None:
    folder = archive.settings.data_dir / "lexical" / archive.lexical.generation
    assert LexicalIndex.load(folder).ids == archive.lexical.ids
    for damaged in folder.iterdir():
        damaged.write_bytes(b"\x00garbage\xff" * 10)

    reopened = Archive(make_settings(), embedder=embedder)
    assert reopened.lexical.ids == archive.lexical.ids
    assert not reopened.ask(CROCUS_QUESTION).answer.refused
    assert LexicalIndex.load(folder).ids == archive.lexical.ids  # saved again, whole


def test_a_snapshot_missing_its_bm25_files_is_rebuilt(
    archive: Archive, make_settings: Callable[..., Settings], embedder: Embedder
) -> None:
    folder = archive.settings.data_dir / "lexical" / archive.lexical.generation
    for part in folder.iterdir():
        if part.name != "snapshot.json":
            part.unlink()
    reopened = Archive(make_settings(), embedder=embedder)
    assert reopened.lexical.ids == archive.lexical.ids
    assert reopened.search(CROCUS_QUESTION)


@pytest.mark.slow
def test_damaged_index_files_get_a_clear_message_and_rebuild_repairs_them(
    tmp_path: Path,
    corpus_dir: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    data = tmp_path / "data"
    (data / "chroma").mkdir(parents=True)
    (data / "chroma" / "chroma.sqlite3").write_bytes(b"not a database" * 500)
    (data / "manifest.sqlite3").write_bytes(b"not a database either" * 500)
    (data / "lexical" / "0123abcd").mkdir(parents=True)
    (data / "lexical" / "0123abcd" / "snapshot.json").write_text("{", encoding="utf-8")

    for args in (["ask", CROCUS_QUESTION], ["ingest"], ["sources"]):
        failed = citebot(args, cwd=tmp_path)
        assert failed.returncode == 1, failed
        assert "citebot ingest --rebuild" in failed.stderr
        assert "Traceback" not in failed.stderr

    repaired = citebot(["ingest", "--rebuild"], cwd=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert "1 added" in repaired.stdout

    archive = Archive(make_settings(), embedder=embedder)
    answer = archive.ask(CROCUS_QUESTION).answer
    assert not answer.refused and "United States" in answer.text
    with sqlite3.connect(data / "manifest.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM files").fetchone() == (1,)


# -- through the bot ------------------------------------------------------------------------------

USER = 4242


async def ask_bot(api: BotApiServer, text: str, chat_id: int = USER) -> dict[str, Any]:
    """Send a question and return the bot's next reply in that chat."""
    before = len(api.calls_to("sendMessage", chat_id=chat_id))
    api.push_message(text, chat_id=chat_id)
    call = await api.wait_for("sendMessage", chat_id=chat_id, count=before + 1, timeout=60)
    assert isinstance(call.result, dict), call.result
    return call.result


@pytest.mark.slow
async def test_bot_users_hear_temporarily_unavailable_and_then_get_answers_again(
    chroma_server: ChromaServer,
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: Embedder,
) -> None:
    async with BotApiServer() as api:
        settings = remote_settings(
            make_settings,
            chroma_server,
            telegram_bot_token=api.token,
            telegram_api_base_url=api.base_url,
        )
        archive = Archive(settings, embedder=embedder)
        await asyncio.to_thread(archive.ingest)
        async with running(build_application(settings, archive), Polling(timeout=2)):
            assert "United States" in (await ask_bot(api, CROCUS_QUESTION))["text"]

            await asyncio.to_thread(chroma_server.stop)
            down = await ask_bot(api, CROCUS_QUESTION, chat_id=USER + 1)
            assert "temporarily unavailable" in down["text"]
            assert "Traceback" not in down["text"] and "Chroma" not in down["text"]

            await asyncio.to_thread(chroma_server.start)
            back = await ask_bot(api, CROCUS_QUESTION, chat_id=USER + 2)
            assert "United States" in back["text"] and "[1]" in back["text"]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to fill the disk")
async def test_disk_full_under_the_feedback_file_is_logged_and_the_bot_keeps_answering(
    archive: Archive,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every write to /dev/full fails with ENOSPC: SQLite reports "database or disk is full"."""
    full = tmp_path / "full-disk"
    full.mkdir()
    (full / "feedback.sqlite3").symlink_to("/dev/full")
    async with BotApiServer() as api:
        settings = make_settings(
            telegram_bot_token=api.token,
            telegram_api_base_url=api.base_url,
            feedback_db=full / "feedback.sqlite3",
        )
        async with running(build_application(settings, archive), Polling(timeout=2)):
            answer = await ask_bot(api, CROCUS_QUESTION)
            api.push_callback(answer, buttons(answer)["👍"])
            vote = await api.wait_for("answerCallbackQuery")
            api.push_callback(answer, buttons(answer)["[1]"])  # held in memory: still works
            shown = await api.wait_for("editMessageText", chat_id=USER)
            again = await ask_bot(api, "When did the attack on Crocus City Hall happen?")
    assert "United States" in answer["text"]
    assert vote.params["text"] == "Sorry, your feedback could not be saved right now."
    assert shown.params["text"].startswith("<b>[1] ")
    assert "[1]" in again["text"]
    full_disk = [
        r for r in caplog.records if r.levelno >= logging.ERROR and "disk is full" in r.getMessage()
    ]
    assert len(full_disk) >= 3  # two answers and the vote, each logged
