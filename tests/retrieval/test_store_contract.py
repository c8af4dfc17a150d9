"""One contract for `ChromaStore`, run against embedded Chroma (`PersistentClient`) and against
a real `chroma run` server started by this module: what the archive relies on must hold for
both. Ends with a whole ingest-and-ask through each."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.index.embedding import Embedder
from retrieval.index.store import ChromaStore
from retrieval.types import Chunk
from tests.conftest import CROCUS_QUESTION
from tests.fakes.chroma_server import ChromaServer

DIM = 16


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db") as server:
        yield server


@pytest.fixture(params=["embedded", "server"])
def backend_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Callable[..., Settings]:
    """Settings for one backend; every test gets a collection of its own on the server."""
    if request.param == "embedded":
        return make_settings
    server: ChromaServer = request.getfixturevalue("chroma_server")
    collection = f"contract-{uuid.uuid4().hex[:12]}"

    def remote(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "chroma_host": server.host,
            "chroma_port": server.port,
            "chroma_collection": collection,
            "index_refresh_seconds": 0,
        }
        values.update(overrides)
        return make_settings(**values)

    return remote


@pytest.fixture
def store(backend_settings: Callable[..., Settings]) -> ChromaStore:
    return ChromaStore(backend_settings())


def make_chunk(n: int, **fields: object) -> Chunk:
    values: dict[str, object] = {
        "id": f"doc{n // 10}-{n:04d}",
        "document_id": f"doc{n // 10}",
        "text": f"Passage number {n} of the archive.",
        "start": n * 100,
        "end": n * 100 + 33,
        "position": n % 10,
        "title": f"Document {n // 10}",
        "source": f"corpus/doc{n // 10}.md",
    }
    values.update(fields)
    return Chunk(**values)  # type: ignore[arg-type]


def vectors(n: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_upserted_chunks_come_back_whole_and_in_the_order_asked(store: ChromaStore) -> None:
    full = make_chunk(
        1,
        heading="Background",
        date=date(2024, 3, 22),
        url="https://example.org/a?x=1&y=2",
        location="page 2, paragraph 3",
    )
    plain = make_chunk(2)
    store.upsert([full, plain], vectors(2))
    assert store.get([plain.id, "no-such-id", full.id]) == [plain, full]
    assert store.get([]) == []


def test_upsert_is_idempotent_and_replaces_content(store: ChromaStore) -> None:
    chunks = [make_chunk(i) for i in range(5)]
    store.upsert(chunks, vectors(5))
    store.upsert(chunks, vectors(5))
    assert store.count() == 5
    changed = make_chunk(3, text="Rewritten passage.", end=318)
    store.upsert([changed], vectors(1, seed=7))
    assert store.count() == 5
    assert store.get([changed.id]) == [changed]


def test_query_ranks_by_cosine_similarity_and_filters_by_date(store: ChromaStore) -> None:
    chunks = [make_chunk(i, date=date(2024, 1, 1 + i)) for i in range(6)]
    vecs = vectors(6)
    store.upsert(chunks, vecs)
    found = store.nearest(vecs[4], k=3)
    assert len(found) == 3
    assert found[0][0] == chunks[4].id
    assert found[0][1] == pytest.approx(1.0, abs=1e-4)
    similarities = [s for _, s in found]
    assert similarities == sorted(similarities, reverse=True)
    expected = sorted(range(6), key=lambda i: -float(vecs[i] @ vecs[4]))[:3]
    assert [i for i, _ in found] == [chunks[i].id for i in expected]
    assert store.get([i for i, _ in found]) == [chunks[i] for i in expected]

    low, high = date(2024, 1, 2).toordinal(), date(2024, 1, 3).toordinal()
    where = {"$and": [{"date_ord": {"$gte": low}}, {"date_ord": {"$lte": high}}]}
    dated = store.nearest(vecs[4], k=5, where=where)
    assert {i for i, _ in dated} == {chunks[1].id, chunks[2].id}


def test_delete_removes_only_the_named_ids(store: ChromaStore) -> None:
    chunks = [make_chunk(i) for i in range(6)]
    store.upsert(chunks, vectors(6))
    store.delete([chunks[0].id, chunks[5].id, "never-stored"])
    store.delete([])
    assert store.ids() == {c.id for c in chunks[1:5]}
    assert store.count() == 4
    assert store.get([chunks[0].id]) == []


def test_scan_yields_every_chunk_once_across_pages(store: ChromaStore) -> None:
    chunks = [make_chunk(i) for i in range(23)]
    store.upsert(chunks, vectors(23))
    scanned = list(store.scan(page=5))
    assert sorted(c.id for c in scanned) == sorted(c.id for c in chunks)
    assert {c.id: c for c in scanned} == {c.id: c for c in chunks}
    assert list(store.scan(page=100)) != []


def test_generation_is_shared_by_every_client_of_the_store(
    backend_settings: Callable[..., Settings],
) -> None:
    settings = backend_settings()
    writer = ChromaStore(settings)
    assert writer.generation() == ""
    writer.upsert([make_chunk(1)], vectors(1))
    writer.set_generation("gen-1")
    reader = ChromaStore(settings)
    assert reader.generation() == "gen-1"
    writer.set_generation("gen-2")
    assert reader.generation() == "gen-2"
    assert writer.generation() == "gen-2"
    assert reader.count() == 1


def test_the_embedder_recorded_with_the_store_is_shared_and_kept_by_clear(
    backend_settings: Callable[..., Settings],
) -> None:
    settings = backend_settings()
    writer = ChromaStore(settings)
    assert writer.embedder() == "" and writer.dimension() is None
    writer.upsert([make_chunk(i) for i in range(3)], vectors(3))
    writer.set_embedder('{"model": "m", "dimension": 16}')
    writer.set_generation("gen-1")
    reader = ChromaStore(settings)
    assert reader.embedder() == '{"model": "m", "dimension": 16}'
    assert reader.dimension() == DIM
    writer.delete([make_chunk(i).id for i in range(3)])
    assert writer.dimension() == DIM  # an emptied collection still takes only DIM
    writer.clear()
    assert writer.count() == 0 and writer.dimension() is None
    assert writer.generation() == "gen-1" and writer.embedder() != ""  # records kept
    wider = np.ones((1, 2 * DIM), dtype=np.float32) / np.sqrt(2 * DIM)
    writer.upsert([make_chunk(9)], wider)  # vectors of another length now fit
    assert writer.dimension() == 2 * DIM and writer.count() == 1


def test_an_empty_store_answers_every_call(store: ChromaStore) -> None:
    assert store.count() == 0
    assert store.ids() == set()
    assert list(store.scan()) == []
    assert store.get(["x"]) == []


def test_archive_ingests_and_answers_through_the_store(
    backend_settings: Callable[..., Settings],
    corpus_dir: Path,
    embedder: Embedder,
) -> None:
    archive = Archive(backend_settings(), embedder=embedder)
    first = archive.ingest()
    assert first.added == ["corpus/us-warned-russia-crocus-city-hall.txt"]
    chunks = archive.store.count()
    assert chunks == len(archive.lexical) > 0
    assert archive.ingest().unchanged == first.added
    assert archive.store.count() == chunks

    answer = archive.ask(CROCUS_QUESTION).answer
    assert not answer.refused
    assert "United States" in answer.text
    assert answer.citations[0].source == "corpus/us-warned-russia-crocus-city-hall.txt"

    # A second process (here: a second Archive) finds the published BM25 snapshot.
    other = Archive(backend_settings(), embedder=embedder)
    assert other.lexical.generation == archive.lexical.generation != ""
    assert other.lexical.ids == archive.lexical.ids
