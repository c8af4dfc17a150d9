"""Index state in one place: the BM25 side of the index kept consistent with the vector store,
in this process and in others that share the store.

The protocol (one writer at a time, any number of readers):

1. A writer, before its first change to the store, sets the store's generation token to a
   fresh `writing-…` value (`IndexState.writing` hands the ingest a `mark` callback), so
   readers elsewhere see that the content is changing, and a writer killed mid-way leaves a
   token that no saved snapshot claims to match.
2. When it is done it builds the BM25 index of the store as it is now, saves it as
   `LEXICAL_DIR/<generation>/`, and only then publishes `<generation>` as the token.
3. A reader compares its snapshot's generation with the store's token (`refresh`) and loads
   the matching snapshot, or rebuilds it from the store when there is none.

"One writer at a time" holds across processes and hosts (`WriteLock`): `writing()` takes an
exclusive lock on `DATA_DIR/write.lock` (fcntl.flock: released by the kernel when a writer
dies) and, with a Chroma server, a lease in the collection's metadata that the writer renews
while it writes and that expires when it is killed. A second writer waits, saying who holds
the lock, and gives up after INGEST_LOCK_TIMEOUT. So an ingest's orphan sweep (chunks in the
store but not in the manifest) can never see another ingest's batch between its store write
and its manifest record.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from retrieval.errors import DataNotWritable, IndexBusy, IndexCorrupt
from retrieval.index.lexical import LexicalIndex
from retrieval.index.store import Store
from retrieval.settings import RetrievalSettings

log = logging.getLogger(__name__)

WRITING_PREFIX = "writing-"
_TOKEN = re.compile(r"[0-9A-Za-z_-]{1,64}")
LOCK_FILE = "write.lock"  # in DATA_DIR, beside the manifest it protects; never deleted
_POLL = 0.1  # seconds between tries for the lock file
_SETTLE = 0.5  # seconds a new lease is left to settle before it is read back


class WriteLock:
    """One writer at a time for an archive, across threads, processes and hosts.

    - threads of this process: a lock;
    - processes sharing DATA_DIR (the bot, `citebot ingest`, an ingest container on the same
      volume): `fcntl.flock` on `DATA_DIR/write.lock`, which names its holder;
    - with a Chroma server, writers anywhere: a lease in the collection's metadata naming its
      holder and an expiry, renewed every third of INGEST_LEASE_SECONDS while the writer
      lives, so a killed writer blocks the others for at most that long. Chroma has no
      compare-and-set, so a lease is written, left to settle, and read back: of two writers
      claiming at once, the one whose claim landed last keeps it.
    """

    def __init__(
        self,
        path: Path | None,
        timeout: float,
        store: Store | None = None,
        lease_seconds: float = 60.0,
    ) -> None:
        self.path = path
        self.timeout = timeout
        self.store = store  # set: hold a lease in it too
        self.lease_seconds = lease_seconds
        self._threads = threading.Lock()

    @classmethod
    def for_store(cls, store: Store, folder: Path) -> WriteLock:
        """The lock of the archive a store belongs to (its settings say where and how long)."""
        settings = getattr(store, "settings", None)
        if not isinstance(settings, RetrievalSettings):
            return cls(folder.parent / LOCK_FILE, 600.0)
        return cls(
            settings.data_dir / LOCK_FILE,
            settings.ingest_lock_timeout,
            store if settings.chroma_is_remote else None,
            settings.ingest_lease_seconds,
        )

    @property
    def held_here(self) -> bool:
        """Whether a thread of this process is writing."""
        return self._threads.locked()

    @contextlib.contextmanager
    def held(self) -> Iterator[Callable[[], None]]:
        """Hold the lock; yield `check`, which raises IndexBusy if the lease was lost."""
        deadline = time.monotonic() + self.timeout
        if not self._threads.acquire(timeout=self.timeout):
            raise IndexBusy(
                f"another ingest in this process is still writing to this archive; gave up"
                f" waiting after {self.timeout:.0f} s (INGEST_LOCK_TIMEOUT)"
            )
        try:
            with self._file_lock(deadline), self._lease(deadline) as check:
                yield check
        finally:
            self._threads.release()

    # -- the lock file ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _file_lock(self, deadline: float) -> Iterator[None]:
        if self.path is None:
            yield
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (closed below)
        except OSError as exc:
            denied = DataNotWritable.of(self.path.parent, exc)
            if denied is not None:
                raise denied from exc
            raise
        with handle:
            announced = False
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = _describe(_read_holder(handle))
                    if time.monotonic() >= deadline:
                        raise IndexBusy(self._gave_up(holder)) from None
                    if not announced:
                        log.warning("%s", self._waiting(holder))
                        announced = True
                    time.sleep(_POLL)
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(_me()))
                handle.flush()
                yield
            finally:
                with contextlib.suppress(OSError):
                    handle.seek(0)
                    handle.truncate()
                    handle.flush()
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- the lease on a Chroma server ------------------------------------------------------

    @contextlib.contextmanager
    def _lease(self, deadline: float) -> Iterator[Callable[[], None]]:
        store = self.store
        if store is None:
            yield lambda: None
            return
        mine = _me() | {"owner": uuid.uuid4().hex}
        announced = False
        while True:
            holder = _parse(store.lease())
            expired = holder is not None and float(holder.get("expires", 0)) < time.time()
            if holder is None or expired or holder.get("owner") == mine["owner"]:
                if expired and holder is not None:
                    log.warning(
                        "the write lease of %s expired (was it killed?); taking it over",
                        _describe(holder),
                    )
                store.set_lease(json.dumps(mine | {"expires": time.time() + self.lease_seconds}))
                time.sleep(_SETTLE)
                holder = _parse(store.lease())
                if holder is not None and holder.get("owner") == mine["owner"]:
                    break
            if time.monotonic() >= deadline:
                raise IndexBusy(self._gave_up(_describe(holder)))
            if not announced:
                log.warning("%s", self._waiting(_describe(holder)))
                announced = True
            time.sleep(min(1.0, self.lease_seconds / 3))
        lost = threading.Event()
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew, args=(store, mine, stop, lost), name="lease-renewer", daemon=True
        )
        renewer.start()

        def check() -> None:
            if lost.is_set():
                raise IndexBusy(
                    "this ingest lost its write lease to another writer (it stalled for longer"
                    f" than INGEST_LEASE_SECONDS={self.lease_seconds:.0f}); stopped before"
                    " writing more. Run the ingest again."
                )

        try:
            yield check
        finally:
            stop.set()
            renewer.join()
            with contextlib.suppress(Exception):
                holder = _parse(store.lease())
                if holder is not None and holder.get("owner") == mine["owner"]:
                    store.set_lease("")

    def _renew(
        self, store: Store, mine: dict[str, Any], stop: threading.Event, lost: threading.Event
    ) -> None:
        while not stop.wait(self.lease_seconds / 3):
            try:
                holder = _parse(store.lease())
                if holder is None or holder.get("owner") != mine["owner"]:
                    log.error("the write lease was taken over by %s", _describe(holder))
                    lost.set()
                    return
                store.set_lease(json.dumps(mine | {"expires": time.time() + self.lease_seconds}))
            except Exception as exc:  # the server is away: the writes fail on their own
                log.warning("could not renew the write lease: %s", exc)

    # -- messages --------------------------------------------------------------------------

    def _waiting(self, holder: str) -> str:
        return (
            f"another ingest is writing to this archive ({holder}); waiting up to"
            f" {self.timeout:.0f} s for it to finish…"
        )

    def _gave_up(self, holder: str) -> str:
        return (
            f"another ingest is still writing to this archive ({holder}); gave up waiting after"
            f" {self.timeout:.0f} s (INGEST_LOCK_TIMEOUT). Try again when it has finished."
        )


def _me() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}


def _read_holder(handle: IO[str]) -> dict[str, Any] | None:
    try:
        handle.seek(0)
        return _parse(handle.read())
    except OSError:
        return None


def _parse(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "holder unknown"
    try:
        since = datetime.fromtimestamp(float(holder["since"])).strftime("%Y-%m-%d %H:%M:%S")
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        since = "an unknown time"
    return f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} since {since}"


class IndexState:
    """The current `LexicalIndex` of a store, its snapshots on disk, and the write protocol."""

    def __init__(
        self,
        store: Store,
        folder: Path,
        build: Callable[[Store, str], LexicalIndex],
        bm25: tuple[float, float],
    ) -> None:
        self.store = store
        self.folder = folder
        self._build = build  # (store, generation) → the lexical index of the store as it is
        self._bm25 = bm25  # (k1, b): a snapshot built with others is rebuilt, not used
        self._write_lock = WriteLock.for_store(store, folder)
        self._refresh_lock = threading.Lock()
        self.lexical = self._load()

    # -- writing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[Callable[[], None]]:
        """Hold the archive's write lock (this process's, and across processes: see
        `WriteLock`); yield `mark`, to call before each change."""
        token = WRITING_PREFIX + uuid.uuid4().hex
        marked = False

        with self._write_lock.held() as still_held:

            def mark() -> None:
                nonlocal marked
                still_held()
                if not marked:
                    self.store.set_generation(token)
                    marked = True

            yield mark

    def publish_if_stale(self, changed: bool) -> None:
        """After a write: publish a new generation if anything changed, or if the store's
        token is not the one this process's index was built for."""
        generation = self.store.generation()
        if (
            changed
            or self.lexical.generation != generation
            or generation.startswith(WRITING_PREFIX)
        ):
            self._publish(uuid.uuid4().hex)

    def _publish(self, generation: str) -> None:
        """Swap in a lexical index of the store as it is now, under a new generation token;
        the snapshot is saved before the token is set."""
        previous = self.lexical.generation
        lexical = self._build(self.store, generation)
        self._save(lexical)
        self.store.set_generation(generation)
        self.lexical = lexical
        self._prune(keep={generation, previous})

    # -- reading -----------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Reload the lexical index if another process changed the store; True if it did.

        Questions keep using the current index while one thread reloads; a write in this
        process swaps in its own index when it is done, so it is not reloaded meanwhile.
        """
        if self._write_lock.held_here or self.store.generation() == self.lexical.generation:
            return False
        with self._refresh_lock:
            generation = self.store.generation()
            if generation == self.lexical.generation:
                return False  # another thread reloaded it while this one waited
            if not generation.startswith(WRITING_PREFIX):
                self.store.reopen()  # embedded Chroma: read the other process's vectors too
            self.lexical = self._load()
        return True

    def _load(self) -> LexicalIndex:
        """The lexical index for the store's current generation: the saved snapshot if there
        is a whole one, else rebuilt from the store (and saved for the next process)."""
        generation = self.store.generation()
        folder = self._snapshot_dir(generation)
        if folder is not None and folder.exists():
            try:
                lexical = LexicalIndex.load(folder)
                if lexical.generation == generation and lexical.bm25 == self._bm25:
                    return lexical
                log.warning("lexical snapshot %s holds another generation or BM25", folder)
            except IndexCorrupt as exc:
                log.warning("%s; rebuilding it from the store", exc)
            shutil.rmtree(folder, ignore_errors=True)
        lexical = self._build(self.store, generation)
        if len(lexical) and (folder is None or not folder.exists()):
            self._save(lexical)
        return lexical

    # -- snapshots on disk -------------------------------------------------------------------

    def _snapshot_dir(self, generation: str) -> Path | None:
        """Where the snapshot of a published generation lives; None for tokens that no
        snapshot may claim (empty, foreign, or a write still in progress)."""
        if not _TOKEN.fullmatch(generation) or generation.startswith(WRITING_PREFIX):
            return None
        return self.folder / generation

    def _save(self, lexical: LexicalIndex) -> None:
        folder = self._snapshot_dir(lexical.generation)
        if folder is None or folder.exists():
            return
        try:
            lexical.save(folder)
        except OSError as exc:  # a full disk costs the next process a rebuild, nothing more
            log.warning("could not save the lexical index: %s", exc)

    def _prune(self, keep: set[str]) -> None:
        """Delete snapshots other than `keep`, and temporary folders a killed save left."""
        try:
            entries = list(self.folder.iterdir())
        except OSError:
            return
        for entry in entries:
            if entry.name in keep:
                continue
            if entry.name.startswith(".") and time.time() - _mtime(entry) < 600:
                continue  # perhaps another process's save in progress
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def discard_index_files(
    settings: RetrievalSettings, vector_store: bool = True, locked: bool = False
) -> None:
    """Delete the manifest and the lexical snapshots (and, if `vector_store`, an embedded
    Chroma folder that is damaged) without opening them through citebot: the way out when one
    of them is damaged. A Chroma server's collection is left alone; the next ingest, having
    no manifest, deletes every chunk in it and writes the corpus again.

    Takes the archive's lock file unless the caller holds the write lock (`locked`): another
    ingest must not lose its manifest under it."""
    lock = WriteLock(
        None if locked else settings.data_dir / LOCK_FILE, settings.ingest_lock_timeout
    )
    with lock.held():
        manifest = settings.manifest_path
        for path in (manifest, Path(f"{manifest}-wal"), Path(f"{manifest}-shm")):
            path.unlink(missing_ok=True)
        shutil.rmtree(settings.lexical_dir, ignore_errors=True)
        if vector_store and not settings.chroma_is_remote:
            folder = settings.chroma_dir
            if _chroma_damaged(folder, settings.chroma_collection):
                log.warning("the vector store in %s is damaged; starting it afresh", folder)
                shutil.rmtree(folder, ignore_errors=True)


# Opens an embedded Chroma folder the way citebot does and reads from it; exits non-zero
# (an exception, a Rust panic, or a crash) if the folder is damaged.
_PROBE = """
import sys
import chromadb
from chromadb.config import Settings

client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
if sys.argv[2] in [c.name for c in client.list_collections()]:
    collection = client.get_collection(sys.argv[2], embedding_function=None)
    collection.count()
    _ = collection.metadata
    first = collection.get(limit=1, include=["embeddings", "documents", "metadatas"])
    if len(first["ids"]):
        collection.query(query_embeddings=[first["embeddings"][0]], n_results=1, include=[])
"""


def _chroma_damaged(folder: Path, collection: str) -> bool:
    """True if the embedded Chroma database fails SQLite's integrity check, or cannot be
    opened and read by chromadb: tried in a child process, since damaged data can make
    chromadb's Rust core panic or crash rather than raise."""
    database = folder / "chroma.sqlite3"
    if not database.exists():
        return False
    if _sqlite_damaged(database):
        return True
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE, str(folder), collection],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("could not check the vector store in %s: %s", folder, exc)
        return False
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
        log.warning("the vector store in %s cannot be read: %s", folder, reason[:300])
    return probe.returncode != 0


def _sqlite_damaged(path: Path) -> bool:
    """True if the SQLite file exists and fails its own integrity check (read-only look)."""
    if not path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("PRAGMA quick_check").fetchone() != ("ok",)
    except sqlite3.Error:
        return True
