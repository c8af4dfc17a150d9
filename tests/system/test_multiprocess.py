"""Several processes on one Chroma server: an ingest job writing while a reader answers.

The reader must never crash on the half-written store, must notice the change (the store's
generation token) and end up with a BM25 index that matches the store exactly.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.errors import IndexCorrupt
from retrieval.index.embedding import Embedder
from retrieval.index.lexical import LexicalIndex
from retrieval.index.snapshots import WRITING_PREFIX
from retrieval.text import terms
from retrieval.types import Chunk
from tests.fakes.chroma_server import ChromaServer
from tests.system.test_faults import child_env, write_corpus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    with ChromaServer(tmp_path_factory.mktemp("shared-chroma") / "db") as server:
        yield server


def code_word(n: int) -> str:
    return f"codeword{n}x1"


def finds(archive: Archive, n: int) -> str | None:
    """The source of the passage that BM25 ranks first for file n's code word, if any."""
    best = archive.lexical.search(terms(code_word(n)), k=1)
    found = archive.store.get([best[0][0]]) if best else []
    return found[0].source if found else None


def test_reader_stays_consistent_while_an_ingest_process_writes(
    chroma_server: ChromaServer,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    embedder: Embedder,
) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 30)
    remote = {
        "chroma_host": chroma_server.host,
        "chroma_port": chroma_server.port,
        "chroma_collection": "shared-archive",
        "chunk_max_chars": 200,
    }
    writer = Archive(make_settings(**remote), embedder=embedder)
    writer.ingest()
    reader = Archive(make_settings(**remote, index_refresh_seconds=0), embedder=embedder)
    assert finds(reader, 5) == "corpus/bulletin-005.md"

    # The next ingest deletes 10 files, rewrites 5 and adds 20 (written by another process).
    for n in range(10):
        (corpus / f"bulletin-{n:03d}.md").unlink()
    fresh = tmp_path / "fresh"
    write_corpus(fresh, 55)
    for n in range(10, 15):
        text = (fresh / f"bulletin-{n + 40:03d}.md").read_text(encoding="utf-8")
        (corpus / f"bulletin-{n:03d}.md").write_text(text, encoding="utf-8")
    for n in range(30, 50):
        (fresh / f"bulletin-{n:03d}.md").rename(corpus / f"bulletin-{n:03d}.md")

    env = {
        "CHROMA_HOST": chroma_server.host,
        "CHROMA_PORT": str(chroma_server.port),
        "CHROMA_COLLECTION": "shared-archive",
        "CHUNK_MAX_CHARS": "200",
        "INGEST_COMMIT_CHUNKS": "12",
        "EMBEDDING_BATCH_SIZE": "8",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "ingest"],
        cwd=tmp_path,
        env=child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    generations: set[str] = set()
    questions = 0
    try:
        deadline = time.monotonic() + 300
        while child.poll() is None:
            assert time.monotonic() < deadline, "the ingest process did not finish"
            n = questions % 50
            _ = reader.ask(f"Which vessel carried {code_word(n)}?").answer  # must never raise
            reader.stats()
            for hit in reader.search(f"harbour bulletin {n} crates"):
                assert hit.chunk.text  # a hit always carries its passage
            generations.add(reader.lexical.generation)
            questions += 1
            time.sleep(0.2)  # a trickle of questions; the CPU is the ingest's
    finally:
        out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "20 added, 5 changed, 15 unchanged, 10 removed" in out
    assert any(g.startswith(WRITING_PREFIX) for g in generations), "never saw the ingest"

    _ = reader.ask("Which vessel arrived at dawn?").answer  # notices the published generation
    store_ids = reader.store.ids()
    assert reader.lexical.generation == reader.store.generation()
    assert not reader.lexical.generation.startswith(WRITING_PREFIX)
    assert sorted(reader.lexical.ids) == sorted(store_ids)
    assert len(store_ids) == reader.store.count()
    assert all(finds(reader, n) is None for n in range(10))  # deleted
    assert all(finds(reader, n + 40) == f"corpus/bulletin-{n:03d}.md" for n in range(10, 15))
    assert all(finds(reader, n) == f"corpus/bulletin-{n:03d}.md" for n in range(30, 50))

    # A process starting now loads the snapshot the ingest process saved beside the manifest.
    snapshot = tmp_path / "data" / "lexical" / reader.lexical.generation
    assert LexicalIndex.load(snapshot).ids == reader.lexical.ids
    late = Archive(make_settings(**remote), embedder=embedder)
    assert late.lexical.ids == reader.lexical.ids


def test_concurrent_snapshot_saves_leave_one_whole_snapshot(tmp_path: Path) -> None:
    chunks = [
        Chunk(
            id=f"c{i}",
            document_id=f"d{i % 7}",
            text=f"Passage {i} about harbour number {i * 13}.",
            start=0,
            end=30,
            position=i,
            title=f"Document {i % 7}",
            source=f"corpus/d{i % 7}.md",
        )
        for i in range(300)
    ]
    index = LexicalIndex.build(chunks, "gen1", k1=0.4, b=0.4)
    folder = tmp_path / "lexical" / "gen1"
    start = threading.Barrier(8)
    errors: list[BaseException] = []
    loaded: list[LexicalIndex] = []

    def save() -> None:
        try:
            start.wait()
            for _ in range(5):
                index.save(folder)
        except BaseException as exc:
            errors.append(exc)

    def load() -> None:
        start.wait()
        for _ in range(40):
            try:
                loaded.append(LexicalIndex.load(folder))
            except IndexCorrupt:
                pass  # between renames the folder may be briefly absent: rebuilt from the store
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(6)]
    threads += [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(x.ids == index.ids and len(x) == len(index) for x in loaded)
    assert LexicalIndex.load(folder).search(terms("harbour 1300"), k=1)[0][0] == "c100"
    assert [p.name for p in (tmp_path / "lexical").iterdir()] == ["gen1"]
