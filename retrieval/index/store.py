"""The vector store: chunks with their embeddings in Chroma, embedded on disk or over HTTP."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar

import numpy as np

from retrieval.errors import DataNotWritable, IndexCorrupt, IndexUnavailable
from retrieval.settings import RetrievalSettings
from retrieval.text import neutralise_footnotes
from retrieval.types import Chunk

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class Store(Protocol):
    """Where chunks and their vectors live. Ids are the chunks' own deterministic ids."""

    def upsert(self, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def nearest(
        self, embedding: np.ndarray, k: int, where: dict | None = None
    ) -> list[tuple[str, float]]:
        """The ids of the k nearest chunks with their cosine similarity, best first; `get`
        reads the chunks themselves."""
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

    def lease(self) -> str:
        """The write lease recorded with the store ('' when none): how writers on different
        hosts, sharing no lock file, take turns."""
        ...

    def embedder(self) -> str:
        """The identity of the embedder whose vectors the store holds, as recorded by the
        writer ('' when none is recorded: an empty store, or one written before citebot
        recorded it)."""
        ...

    def set_embedder(self, identity: str) -> None: ...

    def dimension(self) -> int | None:
        """The length of the vectors the store takes (None while it has never held any)."""
        ...

    def clear(self) -> None:
        """Delete every chunk and start afresh, so that vectors of another length fit (the
        store's own records, such as the generation and the lease, are kept)."""
        ...

    def set_lease(self, lease: str) -> None: ...

    def reopen(self) -> None:
        """Read the store afresh after another process changed it (a no-op where reads are
        always fresh)."""
        ...


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
    """A stored chunk as the rest of citebot sees it (footnote numbers neutralised)."""
    return Chunk(
        id=chunk_id,
        document_id=str(meta.get("document_id", "")),
        text=neutralise_footnotes(text),
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
    """In remote mode, a failed server call becomes IndexUnavailable and drops the connection,
    so that the next call reconnects (the server may have restarted, or lost the collection).
    A panic of chromadb's Rust core on damaged data becomes IndexCorrupt, in either mode."""

    @functools.wraps(method)
    def wrapper(self: ChromaStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except IndexUnavailable:
            raise
        except Exception as exc:
            if not self.remote or not _is_server_failure(exc):
                raise
            log.warning("Chroma server call %s failed: %s", method.__name__, exc)
            self._collection = None
            raise IndexUnavailable(self._unavailable_message(exc)) from exc
        except BaseException as exc:
            if not is_panic(exc):
                raise
            log.error("chromadb panicked in %s: %s", method.__name__, exc)
            raise IndexCorrupt(self._corrupt_message(exc)) from exc

    return wrapper  # type: ignore[return-value]


def is_panic(exc: BaseException) -> bool:
    """A Rust panic surfacing through pyo3 (`pyo3_runtime.PanicException`): a BaseException,
    not an Exception, and not importable under a stable name, so it is known by its name."""
    return any(cls.__name__ == "PanicException" for cls in type(exc).__mro__)


def _is_server_failure(exc: Exception) -> bool:
    """Network errors, timeouts, refused credentials and the server's own errors; not mistakes
    in our arguments."""
    import httpx
    from chromadb.errors import ChromaError, InvalidArgumentError

    if isinstance(exc, InvalidArgumentError):
        return False
    return (
        isinstance(exc, httpx.HTTPError | OSError | ChromaError)
        or (isinstance(exc, ValueError) and "connect" in str(exc).lower())
        or _refused_status(exc) is not None
    )


def _refused_status(exc: BaseException) -> int | None:
    """401 or 403 if the server, or a proxy in front of it, refused the credentials. A proxy's
    non-Chroma body makes chromadb raise a bare Exception (or ValueError) whose context holds
    httpx's HTTPStatusError, so the whole chain is searched."""
    import httpx
    from chromadb.errors import AuthorizationError, ChromaAuthError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, AuthorizationError | ChromaAuthError):
            return int(current.code())
        if isinstance(current, httpx.HTTPStatusError) and current.response.status_code in (
            401,
            403,
        ):
            return current.response.status_code
        current = current.__cause__ or current.__context__
    return None


class ChromaStore:
    """A Chroma collection in cosine space: embedded `PersistentClient`, or `HttpClient` to a
    `chroma run` server when a host is set."""

    def __init__(self, settings: RetrievalSettings) -> None:
        self.remote = settings.chroma_is_remote
        self.settings = settings  # also where the write lock lives (IndexState.writing)
        self._settings = settings
        self._collection_name = settings.chroma_collection
        self._client: Any = None
        self._collection: Any = None
        self._connect_lock = threading.Lock()
        # Chroma replaces a collection's metadata as a whole: changes are merged under this.
        self._metadata_lock = threading.Lock()
        self._connected()

    def _connected(self) -> Any:
        """The collection, (re)connecting first if there is no live connection."""
        collection = self._collection
        if collection is not None:
            return collection
        with self._connect_lock:
            if self._collection is None:
                self._collection = self._connect()
            return self._collection

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = self._settings
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if not self.remote:
            # Absolute: chromadb caches one client per path string, whatever the working folder.
            folder = settings.chroma_dir
            try:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(folder), settings=chroma_settings)
                return self._client.get_or_create_collection(
                    self._collection_name,
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                )
            except Exception as exc:
                # Read-only for this user is not damage: no rebuild hint (chromadb writes to
                # its database even to read: a read-only folder cannot be opened at all).
                denied = DataNotWritable.of(folder, exc)
                if denied is not None:
                    raise denied from exc
                if isinstance(exc, OSError):
                    raise
                raise IndexCorrupt(
                    f"the vector store in {folder} cannot be opened ({exc});"
                    " run `citebot ingest --rebuild` to rebuild it from the corpus"
                ) from exc
            except BaseException as exc:  # a panic of chromadb's Rust core on damaged data
                if not is_panic(exc):
                    raise
                raise IndexCorrupt(self._corrupt_message(exc)) from exc
        try:
            if self._client is None:
                headers = (
                    {"Authorization": f"Bearer {settings.chroma_auth_token}"}
                    if settings.chroma_auth_token
                    else None
                )
                client = chromadb.HttpClient(
                    host=settings.chroma_host,
                    port=settings.chroma_port,
                    ssl=settings.chroma_ssl,
                    headers=headers,
                    settings=chroma_settings,
                )
                _set_timeout(client, settings.chroma_timeout)
                self._client = client
            return self._client.get_or_create_collection(
                self._collection_name,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        except Exception as exc:
            if not _is_server_failure(exc):
                raise
            raise IndexUnavailable(self._unavailable_message(exc)) from exc
        except BaseException as exc:
            if not is_panic(exc):
                raise
            raise IndexCorrupt(self._corrupt_message(exc)) from exc

    def _corrupt_message(self, exc: BaseException) -> str:
        detail = (str(exc).strip().splitlines() or ["a panic"])[0][:300]
        if self.remote:
            where = (
                f"the Chroma server at {self._settings.chroma_host}:{self._settings.chroma_port}"
            )
            return (
                f"the vector store ({where}) failed on damaged data ({detail});"
                " check the server, then run `citebot ingest --rebuild`"
            )
        return (
            f"the vector store in {self._settings.chroma_dir} is damaged ({detail});"
            " run `citebot ingest --rebuild` to rebuild it from the corpus"
        )

    def _unavailable_message(self, exc: Exception) -> str:
        where = f"{self._settings.chroma_host}:{self._settings.chroma_port}"
        status = _refused_status(exc)
        if status is not None and self._settings.chroma_auth_token:
            return (
                f"the Chroma server at {where} refused the credentials ({status});"
                " check CHROMA_AUTH_TOKEN"
            )
        if status is not None:
            return (
                f"the Chroma server at {where} asks for credentials ({status});"
                " set CHROMA_AUTH_TOKEN"
            )
        return f"the archive's vector store (Chroma at {where}) is temporarily unavailable"

    @_unavailable_on_failure
    def upsert(self, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        batch = 5000
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            self._connected().upsert(
                ids=[c.id for c in part],
                embeddings=embeddings[i : i + batch],
                documents=[c.text for c in part],
                metadatas=[to_metadata(c) for c in part],  # type: ignore[misc]
            )

    @_unavailable_on_failure
    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), 5000):
            self._connected().delete(ids=ids[i : i + 5000])

    @_unavailable_on_failure
    def nearest(
        self, embedding: np.ndarray, k: int, where: dict | None = None
    ) -> list[tuple[str, float]]:
        # Reading texts and metadata costs 5-10 times the vector search itself, and a search
        # needs them only for the few candidates that make the final list.
        result = self._connected().query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32).tolist()],
            n_results=k,
            where=where,
            include=["distances"],
        )
        dists = (result["distances"] or [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], dists, strict=True)]

    @_unavailable_on_failure
    def get(self, ids: Sequence[str]) -> list[Chunk]:
        if not ids:
            return []
        result = self._connected().get(ids=list(ids), include=["documents", "metadatas"])
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
            page = self._connected().get(include=[], limit=10000, offset=offset)["ids"]
            found.update(page)
            if len(page) < 10000:
                return found
            offset += len(page)

    def scan(self, page: int = 5000) -> Iterator[Chunk]:
        # Pages are read by offset; a writer deleting meanwhile can shift a chunk into a page
        # already read, so ids are de-duplicated (the reader's generation check covers the rest).
        seen: set[str] = set()
        offset = 0
        while True:
            ids, chunks = self._page(offset, page)
            for chunk in chunks:
                if chunk.id not in seen:
                    seen.add(chunk.id)
                    yield chunk
            if len(ids) < page:
                return
            offset += len(ids)

    @_unavailable_on_failure
    def _page(self, offset: int, limit: int) -> tuple[list[str], list[Chunk]]:
        result = self._connected().get(
            include=["documents", "metadatas"], limit=limit, offset=offset
        )
        chunks = [
            from_record(i, d, dict(m or {}))
            for i, d, m in zip(
                result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True
            )
        ]
        return list(result["ids"]), chunks

    @_unavailable_on_failure
    def count(self) -> int:
        return int(self._connected().count())

    @_unavailable_on_failure
    def generation(self) -> str:
        return str(self._metadata().get("generation", ""))

    @_unavailable_on_failure
    def set_generation(self, token: str) -> None:
        self._update_metadata(generation=token)

    @_unavailable_on_failure
    def lease(self) -> str:
        return str(self._metadata().get("lease", ""))

    @_unavailable_on_failure
    def set_lease(self, lease: str) -> None:
        self._update_metadata(lease=lease)

    @_unavailable_on_failure
    def embedder(self) -> str:
        return str(self._metadata().get("embedder", ""))

    @_unavailable_on_failure
    def set_embedder(self, identity: str) -> None:
        self._update_metadata(embedder=identity)

    @_unavailable_on_failure
    def dimension(self) -> int | None:
        collection = self._client.get_collection(self._connected().name, embedding_function=None)
        # Chroma fixes a collection's dimension at its first vectors, deleted or not.
        known = getattr(getattr(collection, "_model", None), "dimension", None)
        if known:
            return int(known)
        first = collection.get(limit=1, include=["embeddings"])["embeddings"]
        return len(first[0]) if first is not None and len(first) else None

    @_unavailable_on_failure
    def clear(self) -> None:
        with self._metadata_lock:
            metadata = self._metadata()
            with self._connect_lock:
                self._client.delete_collection(self._collection_name)
                self._collection = self._client.get_or_create_collection(
                    self._collection_name,
                    configuration={"hnsw": {"space": "cosine"}},
                    embedding_function=None,
                )
                if metadata:
                    self._collection.modify(metadata=metadata)

    def _metadata(self) -> dict[str, Any]:
        """The collection's metadata as stored now (read afresh: another process may have
        changed it; embedded Chroma in another process sees such changes too)."""
        name = self._connected().name
        return dict(self._client.get_collection(name, embedding_function=None).metadata or {})

    def _update_metadata(self, **changes: str) -> None:
        """Change some keys of the collection's metadata and keep the others (Chroma's
        `modify` replaces the whole mapping)."""
        with self._metadata_lock:
            metadata = self._metadata()
            metadata.update(changes)
            self._connected().modify(metadata=metadata)

    def reopen(self) -> None:
        """Embedded mode: drop what this process's Chroma holds in memory (its vector index),
        so that vectors another process added or deleted are searched too. chromadb applies
        other processes' writes to its in-memory index only when this process writes; new
        bindings read the index and the write log from disk again. One reader thread at a
        time; questions in flight finish on the old bindings."""
        if self.remote or self._client is None:
            return
        server = getattr(self._client, "_server", None)
        if server is None or not hasattr(server, "bindings") or not hasattr(server, "start"):
            log.debug("this chromadb cannot be reopened in place; vectors may be stale")
            return
        try:
            with self._connect_lock:
                server.start()  # new Rust bindings over the same files
        except Exception as exc:
            raise IndexCorrupt(
                f"the vector store in {self._settings.chroma_dir} cannot be reopened ({exc});"
                " run `citebot ingest --rebuild` to rebuild it from the corpus"
            ) from exc
        except BaseException as exc:
            if not is_panic(exc):
                raise
            raise IndexCorrupt(self._corrupt_message(exc)) from exc


def _set_timeout(client: Any, seconds: float) -> None:
    """chromadb's HTTP client waits forever (httpx timeout=None); a hung server must become
    IndexUnavailable instead, so bound every request."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds, connect=min(seconds, 5.0))
