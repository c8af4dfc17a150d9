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
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from retrieval.errors import IndexCorrupt
from retrieval.index.lexical import LexicalIndex
from retrieval.index.store import Store
from retrieval.settings import RetrievalSettings

log = logging.getLogger(__name__)

WRITING_PREFIX = "writing-"
_TOKEN = re.compile(r"[0-9A-Za-z_-]{1,64}")


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
        self._write_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self.lexical = self._load()

    # -- writing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[Callable[[], None]]:
        """Hold this process's write lock; yield `mark`, to call before each change."""
        token = WRITING_PREFIX + uuid.uuid4().hex
        marked = False

        def mark() -> None:
            nonlocal marked
            if not marked:
                self.store.set_generation(token)
                marked = True

        with self._write_lock:
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
        if self._write_lock.locked() or self.store.generation() == self.lexical.generation:
            return False
        with self._refresh_lock:
            if self.store.generation() == self.lexical.generation:
                return False  # another thread reloaded it while this one waited
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


def discard_index_files(settings: RetrievalSettings, vector_store: bool = True) -> None:
    """Delete the manifest and the lexical snapshots (and, if `vector_store`, an embedded
    Chroma folder that fails its integrity check) without opening them through citebot: the
    way out when one of them is damaged. A Chroma server's collection is left alone; the next
    ingest, having no manifest, deletes every chunk in it and writes the corpus again."""
    manifest = settings.manifest_path
    for path in (manifest, Path(f"{manifest}-wal"), Path(f"{manifest}-shm")):
        path.unlink(missing_ok=True)
    shutil.rmtree(settings.lexical_dir, ignore_errors=True)
    if vector_store and not settings.chroma_is_remote:
        folder = settings.chroma_dir
        if _sqlite_damaged(folder / "chroma.sqlite3"):
            log.warning("the vector store in %s is damaged; starting it afresh", folder)
            shutil.rmtree(folder, ignore_errors=True)


def _sqlite_damaged(path: Path) -> bool:
    """True if the SQLite file exists and fails its own integrity check (read-only look)."""
    if not path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("PRAGMA quick_check").fetchone() != ("ok",)
    except sqlite3.Error:
        return True
