"""Issue 11 with real processes: concurrent ingests, a running embedded reader, a Chroma
database that makes chromadb panic, and a decompression bomb's cost in a child process."""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.errors import CitebotError, IndexCorrupt
from retrieval.index.embedding import Embedder
from retrieval.ingest.manifest import Manifest
from tests.conftest import CORPUS, CROCUS_QUESTION
from tests.fakes.chroma_server import ChromaServer
from tests.retrieval.test_ingest_hardening import bomb_docx
from tests.system.test_faults import child_env, citebot, write_corpus
from tests.system.test_multiprocess import finds

pytestmark = pytest.mark.slow

HOST = socket.gethostname()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    with ChromaServer(tmp_path_factory.mktemp("hardening-chroma") / "db") as server:
        yield server


def server_env(server: ChromaServer, collection: str) -> dict[str, str]:
    return {
        "CHROMA_HOST": server.host,
        "CHROMA_PORT": str(server.port),
        "CHROMA_COLLECTION": collection,
    }


def server_settings(server: ChromaServer, collection: str) -> dict[str, object]:
    return {
        "chroma_host": server.host,
        "chroma_port": server.port,
        "chroma_collection": collection,
    }


def python(script: str, cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """A child Python process running `script` with citebot importable."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env=child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def manifest_ids(data: Path) -> set[str]:
    manifest = Manifest(data / "manifest.sqlite3")
    try:
        return {i for e in manifest.entries().values() for i in e.chunk_ids}
    finally:
        manifest.close()


# -- item 2: concurrent ingests ------------------------------------------------------------------

# Ingest B: the folder given, again and again (one file edited each time), until told to stop.
REPEATED_INGEST = """
import json, sys, time
from pathlib import Path
from typing import Any
from bot.settings import Settings
from retrieval.archive import Archive

folder, stop = Path(sys.argv[1]), Path(sys.argv[2])
archive = Archive(Settings())
runs = 0
while True:
    last = stop.exists()
    story = folder / "bulletin-000.md"
    story.write_text(story.read_text() + f"\\nEdit {runs} of the first bulletin.\\n")
    report = archive.ingest([folder])
    runs += 1
    if last:
        break
    time.sleep(0.3)
print(json.dumps({"runs": runs, "failed": report.failed}))
"""


@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_concurrent_ingests_keep_each_others_documents(
    mode: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    """Ingest A (150 files, small commits) while ingest B runs over another folder repeatedly:
    neither may sweep away the other's batches as orphans."""
    files = 150
    write_corpus(tmp_path / "corpus", files)
    write_corpus(tmp_path / "other", 5)
    env = {"CHUNK_MAX_CHARS": "200", "INGEST_COMMIT_CHUNKS": "6", "EMBEDDING_BATCH_SIZE": "8"}
    overrides: dict[str, object] = {"chunk_max_chars": 200}
    if mode == "server":
        server: ChromaServer = request.getfixturevalue("chroma_server")
        env |= server_env(server, "concurrent")
        overrides |= server_settings(server, "concurrent")

    stop = tmp_path / "stop"
    b = python(
        REPEATED_INGEST,
        tmp_path,
        env | {"INGEST_LOCK_TIMEOUT": "600"},
        str(tmp_path / "other"),
        str(stop),
    )
    time.sleep(3)  # B is loading its model; A starts meanwhile
    a = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "ingest", "--json"],
        cwd=tmp_path,
        env=child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        a_out, a_err = a.communicate(timeout=900)
    finally:
        stop.touch()
        b_out, b_err = b.communicate(timeout=900)
    assert a.returncode == 0, a_err
    assert b.returncode == 0, b_err
    a_report = json.loads(a_out.strip().splitlines()[-1])
    b_result = json.loads(b_out.strip().splitlines()[-1])
    assert len(a_report["added"]) == files and not a_report["failed"]
    assert b_result["runs"] >= 2 and not b_result["failed"]

    archive = Archive(make_settings(**overrides), embedder=embedder)
    listed = manifest_ids(tmp_path / "data")
    stored = archive.store.ids()
    lost = listed - stored
    documents = len({c.document_id for c in archive.store.scan()})
    print(
        f"{mode}: the archive holds {documents} of {files + 5} documents; {len(lost)} chunks lost"
    )
    assert not lost, f"{len(lost)} chunks of recorded files are gone from the store"
    assert stored == listed
    assert documents == files + 5
    assert sorted(archive.lexical.ids) == sorted(stored)


# A writer that takes the write lock, says so, and holds it until killed.
HOLD_THE_LOCK = """
import sys, time
from bot.settings import Settings
from retrieval.archive import Archive

archive = Archive(Settings())
with archive._index.writing():
    print("holding", flush=True)
    time.sleep(600)
"""


def hold_the_lock(cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    holder = python(HOLD_THE_LOCK, cwd, env)
    assert holder.stdout is not None
    line = holder.stdout.readline()
    assert line.strip() == "holding", holder.communicate(timeout=30)
    return holder


def test_a_second_writer_waits_then_gives_up_with_a_clear_error(
    tmp_path: Path,
    corpus_dir: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    holder = hold_the_lock(tmp_path, {})
    try:
        archive = Archive(make_settings(ingest_lock_timeout=2), embedder=embedder)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING), pytest.raises(CitebotError) as busy:
            archive.ingest()
        waited = time.monotonic() - started
        message = str(busy.value)
        assert f"pid {holder.pid} on host {HOST}" in message
        assert "INGEST_LOCK_TIMEOUT" in message
        assert 2 <= waited < 10
        assert f"another ingest is writing to this archive (pid {holder.pid}" in caplog.text
        assert "waiting" in caplog.text

        failed = citebot(["ingest"], cwd=tmp_path, env={"INGEST_LOCK_TIMEOUT": "1"})
        assert failed.returncode == 1
        assert f"pid {holder.pid} on host {HOST}" in failed.stderr
        assert "Traceback" not in failed.stderr
    finally:
        holder.kill()
        holder.communicate(timeout=30)
    # The kernel dropped the dead writer's lock: the next ingest goes ahead at once.
    assert Archive(make_settings(ingest_lock_timeout=2), embedder=embedder).ingest().added


def test_a_killed_writers_lease_on_a_chroma_server_expires(
    chroma_server: ChromaServer,
    tmp_path: Path,
    corpus_dir: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    """Writers on other hosts share no lock file, only the server: the lease in the
    collection's metadata makes them wait, and a killed writer's lease runs out."""
    other_host = tmp_path / "other-host"
    other_host.mkdir()
    holder = hold_the_lock(
        other_host, server_env(chroma_server, "leased") | {"INGEST_LEASE_SECONDS": "3"}
    )
    remote = server_settings(chroma_server, "leased")
    try:
        time.sleep(4)  # longer than the lease: the holder renews it while it lives
        archive = Archive(make_settings(**remote, ingest_lock_timeout=2), embedder=embedder)
        with pytest.raises(CitebotError, match=f"pid {holder.pid} on host {HOST}"):
            archive.ingest()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=30)
    started = time.monotonic()
    archive = Archive(make_settings(**remote, ingest_lock_timeout=30), embedder=embedder)
    assert archive.ingest().added
    assert time.monotonic() - started < 20  # the lease ran out; no need to wait 30 s
    assert not archive.ask(CROCUS_QUESTION).answer.refused


# -- item 9: a running embedded reader sees another process's ingest ----------------------------


def test_a_running_embedded_reader_sees_another_processes_ingest(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 3)
    settings = make_settings(chunk_max_chars=200, index_refresh_seconds=0)
    Archive(settings, embedder=embedder).ingest()
    reader = Archive(settings, embedder=embedder)  # the bot, running
    assert finds(reader, 1) == "corpus/bulletin-001.md"

    write_corpus(tmp_path / "fresh", 5)
    (tmp_path / "fresh" / "bulletin-004.md").rename(corpus / "bulletin-004.md")
    (corpus / "bulletin-001.md").unlink()
    done = citebot(["ingest"], cwd=tmp_path, env={"CHUNK_MAX_CHARS": "200"})
    assert done.returncode == 0, done.stderr
    assert "1 added, 0 changed, 2 unchanged, 1 removed" in done.stdout

    _ = reader.ask("Which vessel carried codeword4x1?").answer  # a question: looks for changes
    assert reader.lexical.generation == reader.store.generation()
    assert finds(reader, 4) == "corpus/bulletin-004.md"
    assert finds(reader, 1) is None
    # The vector side too: the new passage's own vector finds it.
    new = [c for c in reader.store.scan() if c.source == "corpus/bulletin-004.md"]
    vectors = embedder.embed([c.indexed_text() for c in new])
    assert [reader.store.nearest(v, k=1)[0][0] for v in vectors] == [c.id for c in new]


# -- item 10: a damaged Chroma database that makes chromadb panic -------------------------------


def damage_collection_row(data: Path) -> None:
    """A well-formed SQLite file whose collection row chromadb's Rust core cannot decode
    (it panics instead of raising): passes `PRAGMA quick_check`."""
    with sqlite3.connect(data / "chroma" / "chroma.sqlite3") as db:
        db.execute("UPDATE collections SET dimension = 'garbage'")


def test_a_panicking_chroma_database_gives_the_rebuild_hint(
    tmp_path: Path,
    corpus_dir: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    settings = make_settings(index_refresh_seconds=0)
    archive = Archive(settings, embedder=embedder)
    archive.ingest()
    damage_collection_row(tmp_path / "data")

    # A running process: the next question reads the collection and meets the damage.
    with pytest.raises(IndexCorrupt, match="citebot ingest --rebuild"):
        _ = archive.ask(CROCUS_QUESTION).answer

    for args in (["ask", CROCUS_QUESTION], ["ingest"], ["sources"]):
        failed = citebot(args, cwd=tmp_path)
        assert failed.returncode == 1, failed
        assert "citebot ingest --rebuild" in failed.stderr
        assert "Traceback" not in failed.stderr

    repaired = citebot(["ingest", "--rebuild"], cwd=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert "1 added" in repaired.stdout
    answer = citebot(["ask", CROCUS_QUESTION], cwd=tmp_path)
    assert answer.returncode == 0 and "United States" in answer.stdout


# -- item 5: a decompression bomb, end to end, in a process of its own --------------------------

MEASURED_INGEST = """
import json, resource, sys, time
from bot.cli import main
started = time.monotonic()
code = main(["ingest", "--json"])
print(json.dumps({
    "code": code,
    "seconds": time.monotonic() - started,
    "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def measured_ingest(cwd: Path) -> tuple[dict, dict]:
    child = python(MEASURED_INGEST, cwd, {"EMBEDDING_BATCH_SIZE": "16"})
    try:
        out, err = child.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail(f"the ingest in {cwd.name} was still running after 300 s")
    assert child.returncode == 0, err
    lines = out.strip().splitlines()
    return json.loads(lines[-2]), json.loads(lines[-1])


def test_a_docx_bomb_is_refused_quickly_and_nothing_else_is_lost(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "corpus").mkdir(parents=True)
    bombed = tmp_path / "bombed"
    (bombed / "corpus").mkdir(parents=True)
    for root in (plain, bombed):
        write_corpus(root / "corpus", 5)
        (root / "corpus" / "crocus.txt").write_text(
            (CORPUS / "us-warned-russia-crocus-city-hall.txt").read_text(encoding="utf-8")
        )
    bomb = bomb_docx(bombed / "corpus" / "minutes.docx", inflated_mb=40)
    print(f"bomb: {bomb.stat().st_size / 1024:.0f} KB on disk")

    report, base = measured_ingest(plain)
    assert len(report["added"]) == 6
    bomb_report, cost = measured_ingest(bombed)
    print(f"without the bomb: {base}; with it: {cost}")
    failed = dict(bomb_report["failed"])
    assert list(failed) == ["corpus/minutes.docx"]
    assert "decompression bomb" in failed["corpus/minutes.docx"]
    assert sorted(bomb_report["added"]) == sorted(report["added"])
    assert bomb_report["chunks_written"] == report["chunks_written"]
    assert cost["max_rss_mb"] < base["max_rss_mb"] + 100
    assert cost["seconds"] < base["seconds"] + 10


def test_footnote_numbers_in_documents_never_pose_as_citations(
    make_settings: Callable[..., Any], tmp_path: Path, embedder: Any
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)
    (corpus / "tesla.md").write_text(
        "# Nikola Tesla\n\nNikola Tesla was born in Smiljan in 1856.[3] He moved to New York"
        " in 1884.[2][5] His rival was Thomas Edison.[14]\n",
        encoding="utf-8",
    )
    archive = Archive(make_settings(corpus_dir=corpus), embedder=embedder)
    archive.ingest()
    answer = archive.ask("Where was Nikola Tesla born?").answer
    assert not answer.refused and "Smiljan" in answer.text
    shown = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert shown and set(shown) == {c.n for c in answer.citations}  # only real citations
    for citation in answer.citations:
        assert "[3]" not in citation.quote and "[2]" not in citation.passage
        assert citation.quote.split(" … ")[0] in citation.passage
    assert "(3)" in answer.citations[0].passage  # the footnote is still there, as (3)
