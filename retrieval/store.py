"""The vector store: chunks with their embeddings in Chroma, embedded on disk or over HTTP."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar

import numpy as np

from retrieval.errors import IndexUnavailable
from retrieval.settings import RetrievalSettings
from retrieval.types import Chunk

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class Store(Protocol):
    """Where chunks and their vectors live. Ids are the chunks' own deterministic ids."""

    def upsert(self, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(
        self, embedding: np.ndarray, k: int, where: dict | None = None
    ) -> list[tuple[Chunk, float]]:
        """The k nearest chunks with their cosine similarity, best first."""
        ...

    def get(self, ids: Sequence[str]) -> list[Chunk]: ...

    def ids(self) -> set[str]: ...

    def scan(self, page: int = 5000) -> Iterator[Chunk]:
        """Every chunk, in pages."""
        ...

    def count(self) -> int: ...

    def generation(self) -> str:
        """A token that changes whenever the content changes (set by the writer)."""
        ...

    def set_generation(self, token: str) -> None: ...


def to_metadata(chunk: Chunk) -> dict[str, str | int]:
    meta: dict[str, str | int] = {
        "document_id": chunk.document_id,
        "start": chunk.start,
        "end": chunk.end,
        "position": chunk.position,
        "title": chunk.title,
        "source": chunk.source,
        "location": chunk.location,
    }
    if chunk.heading:
        meta["heading"] = chunk.heading
    if chunk.date:
        meta["date"] = chunk.date.isoformat()
        meta["date_ord"] = chunk.date.toordinal()
    if chunk.url:
        meta["url"] = chunk.url
    return meta


def from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    return Chunk(
        id=chunk_id,
        document_id=str(meta.get("document_id", "")),
        text=text,
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", len(text))),
        position=int(meta.get("position", 0)),
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        heading=meta.get("heading") or None,
        date=date.fromisoformat(meta["date"]) if meta.get("date") else None,
        url=meta.get("url") or None,
        location=str(meta.get("location", "")),
    )


def _unavailable_on_failure(method: F) -> F:
    """Chroma client failures (server down, timeouts) become IndexUnavailable."""

    @functools.wraps(method)
    def wrapper(self: ChromaStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except IndexUnavailable:
            raise
        except Exception as exc:
            if not self.remote:
                raise
            log.warning("Chroma server call %s failed: %s", method.__name__, exc)
            raise IndexUnavailable("the archive's vector store is temporarily unavailable") from exc

    return wrapper  # type: ignore[return-value]


class ChromaStore:
    """A Chroma collection in cosine space: embedded `PersistentClient`, or `HttpClient` to a
    `chroma run` server when a host is set."""

    def __init__(self, settings: RetrievalSettings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.remote = settings.chroma_is_remote
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self.remote:
                headers = (
                    {"Authorization": f"Bearer {settings.chroma_auth_token}"}
                    if settings.chroma_auth_token
                    else None
                )
                self._client = chromadb.HttpClient(
                    host=settings.chroma_host,
                    port=settings.chroma_port,
                    ssl=settings.chroma_ssl,
                    headers=headers,
                    settings=chroma_settings,
                )
            else:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(
                    path=str(settings.data_dir / "chroma"), settings=chroma_settings
                )
            self._collection = self._client.get_or_create_collection(
                settings.chroma_collection,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        except Exception as exc:
            if not self.remote:
                raise
            raise IndexUnavailable(
                f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port}"
            ) from exc

    @_unavailable_on_failure
    def upsert(self, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        batch = 5000
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            self._collection.upsert(
                ids=[c.id for c in part],
                embeddings=embeddings[i : i + batch],
                documents=[c.text for c in part],
                metadatas=[to_metadata(c) for c in part],  # type: ignore[misc]
            )

    @_unavailable_on_failure
    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), 5000):
            self._collection.delete(ids=ids[i : i + 5000])

    @_unavailable_on_failure
    def query(
        self, embedding: np.ndarray, k: int, where: dict | None = None
    ) -> list[tuple[Chunk, float]]:
        result = self._collection.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32).tolist()],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        ids = result["ids"][0]
        docs = (result["documents"] or [[]])[0]
        metas = (result["metadatas"] or [[]])[0]
        dists = (result["distances"] or [[]])[0]
        return [
            (from_record(i, d, dict(m or {})), 1.0 - float(dist))
            for i, d, m, dist in zip(ids, docs, metas, dists, strict=True)
        ]

    @_unavailable_on_failure
    def get(self, ids: Sequence[str]) -> list[Chunk]:
        if not ids:
            return []
        result = self._collection.get(ids=list(ids), include=["documents", "metadatas"])
        found = {
            i: from_record(i, d, dict(m or {}))
            for i, d, m in zip(
                result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True
            )
        }
        return [found[i] for i in ids if i in found]

    @_unavailable_on_failure
    def ids(self) -> set[str]:
        found: set[str] = set()
        offset = 0
        while True:
            page = self._collection.get(include=[], limit=10000, offset=offset)["ids"]
            found.update(page)
            if len(page) < 10000:
                return found
            offset += len(page)

    @_unavailable_on_failure
    def scan(self, page: int = 5000) -> Iterator[Chunk]:
        offset = 0
        while True:
            result = self._collection.get(
                include=["documents", "metadatas"], limit=page, offset=offset
            )
            for i, d, m in zip(
                result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True
            ):
                yield from_record(i, d, dict(m or {}))
            if len(result["ids"]) < page:
                return
            offset += len(result["ids"])

    @_unavailable_on_failure
    def count(self) -> int:
        return int(self._collection.count())

    @_unavailable_on_failure
    def generation(self) -> str:
        meta = self._client.get_collection(self._collection.name, embedding_function=None).metadata
        return str((meta or {}).get("generation", ""))

    @_unavailable_on_failure
    def set_generation(self, token: str) -> None:
        self._collection.modify(metadata={"generation": token})
