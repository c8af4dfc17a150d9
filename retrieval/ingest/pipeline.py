"""Incremental, idempotent ingestion: files → documents → chunks → embeddings → store.

Unchanged files (same content hash) cost no embedding; changed files replace their chunks
(chunks whose id is unchanged keep their vectors); files gone from a folder lose theirs.
Work is committed in batches, store first and manifest second, so a killed ingest leaves a
usable index, and the next run finishes the job: orphan chunks (in the store but in no
manifest entry) are deleted before anything else.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.errors import LoadError
from retrieval.index.embedding import Embedder
from retrieval.index.store import Store
from retrieval.ingest import loaders
from retrieval.ingest.manifest import Entry, Manifest
from retrieval.ingest.worker import Parse, parse_in_worker
from retrieval.types import Chunk, Document

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (files done, files total, current file)


@dataclass
class IngestReport:
    """What one ingest did, file by file."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    # unsupported types, symbolic links out of the folder: (file, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)  # added or changed file → its title
    chunks_written: int = 0
    chunks_deleted: int = 0
    chunks_embedded: int = 0
    orphans_deleted: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0  # of `seconds`: embedding (tokenising included)
    store_seconds: float = 0.0  # … writing to and deleting from the vector store
    lexical_seconds: float = 0.0  # … building and saving the BM25 snapshot (set by the archive)

    @property
    def changed_anything(self) -> bool:
        return bool(
            self.added
            or self.changed
            or self.removed
            or self.chunks_deleted
            or self.orphans_deleted
        )

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.changed)} changed,"
            f" {len(self.unchanged)} unchanged,"
            f" {len(self.removed)} removed, {len(self.failed)} failed"
            f" ({self.chunks_embedded} chunks embedded, {self.seconds:.1f} s)"
        )


@dataclass
class _Pending:
    key: str
    document: Document
    chunks: list[Chunk]
    previous: Entry | None


def discover(
    paths: Sequence[Path], skipped: list[tuple[Path, str]] | None = None
) -> tuple[list[Path], list[Path]]:
    """Files under the given paths (folders recursively, hidden entries skipped), sorted;
    and the folders among the paths, which define what may count as removed.

    Symbolic links are followed only to files inside the folder being ingested (a named
    file's own folder): a link to a `.env` or `/etc/passwd` would otherwise be indexed and
    quoted to anyone who asks. Links to folders are not walked (those inside are walked as
    themselves). A link to a file found under its own name too is left out, so the file is
    indexed once. What is left out, and why, goes to `skipped`.
    """
    files: list[Path] = []
    folders: list[Path] = []
    refused: list[tuple[Path, str]] = []
    for given in paths:
        if given.is_dir():
            root = given.resolve()
            folders.append(root)
            for top, dirs, names in os.walk(root):
                kept = []
                for name in sorted(d for d in dirs if not d.startswith(".")):
                    folder = Path(top) / name
                    if not folder.is_symlink():
                        kept.append(name)
                    elif not _inside(folder.resolve(), root):
                        refused.append((folder, _outside(folder, root, "folder")))
                dirs[:] = kept
                for name in names:
                    if name.startswith("."):
                        continue
                    file = Path(top) / name
                    if file.is_symlink() and not _inside(file.resolve(), root):
                        refused.append((file, _outside(file, root, "file")))
                    else:
                        files.append(file)
        elif given.exists():
            file = given.absolute()
            folder = file.parent.resolve()
            file = folder / file.name
            if file.is_symlink() and not _inside(file.resolve(), folder):
                refused.append((file, _outside(file, folder, "file")))
            else:
                files.append(file)
    unique = sorted(set(files))
    by_target: dict[Path, Path] = {}
    for file in sorted(unique, key=lambda f: (f.is_symlink(), f)):  # real names first
        by_target.setdefault(file.resolve(), file)
    for file in unique:
        first = by_target[file.resolve()]
        if first != file:
            refused.append(
                (file, f"symbolic link to {first}, which is ingested under its own name")
            )
    if skipped is not None:
        skipped.extend(refused)
    return [f for f in unique if by_target[f.resolve()] == f], folders


def _inside(target: Path, folder: Path) -> bool:
    return target == folder or target.is_relative_to(folder)


def _outside(link: Path, folder: Path, kind: str) -> str:
    target = link.resolve()
    return (
        f"symbolic link to a {kind} outside the folder being ingested ({target}"
        f" is not under {folder}); not followed"
    )


def display_source(path: Path, base: Path | None = None) -> str:
    """How citations name a file: relative to base (or the working folder) when inside it."""
    for root in (base, Path.cwd()):
        if root is None:
            continue
        try:
            return path.relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
    return path.as_posix()


class Ingestor:
    """Brings the store and manifest in line with the files on disk."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        manifest: Manifest,
        max_chunk_chars: int = 1000,
        max_file_bytes: int = 50 * 1024 * 1024,
        batch_chunks: int = 512,
        source_base: Path | None = None,
        before_write: Callable[[], None] = lambda: None,
        limits: loaders.Limits = loaders.DEFAULT_LIMITS,
        max_chunks: int = 10_000,
        parse: Parse = parse_in_worker,
    ) -> None:
        self.parse = parse  # bytes → document and chunks (in a worker process by default)
        self.store = store
        self.limits = limits
        self.max_chunks = max_chunks
        self.before_write = before_write
        self.embedder = embedder
        self.manifest = manifest
        self.max_chunk_chars = max_chunk_chars
        self.max_file_bytes = max_file_bytes
        self.batch_chunks = batch_chunks
        self.source_base = source_base

    def run(self, paths: Sequence[Path], progress: Progress | None = None) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        stored = self.store.ids()
        self._forget_lost_files(stored)
        entries = self.manifest.entries()
        report.orphans_deleted = self._delete_orphans(entries, stored)
        links: list[tuple[Path, str]] = []
        files, folders = discover(paths, links)
        for path, reason in links:
            log.info("skipped %s: %s", path, reason)
            report.skipped.append((display_source(path, self.source_base), reason))
        missing = [p for p in paths if not p.exists()]
        for path in missing:
            report.failed.append((str(path), "no such file or folder"))
        pending: list[_Pending] = []
        for done, path in enumerate(files, start=1):
            if progress:
                progress(done, len(files), path.name)
            item = self._prepare(path, entries.get(str(path)), report)
            if item is not None:
                pending.append(item)
                if sum(len(p.chunks) for p in pending) >= self.batch_chunks:
                    self._commit(pending, report)
                    pending = []
        self._commit(pending, report)
        self._remove_missing(entries, files, folders, paths, report)
        report.seconds = time.perf_counter() - started
        return report

    def _prepare(self, path: Path, previous: Entry | None, report: IngestReport) -> _Pending | None:
        name = display_source(path, self.source_base)
        try:
            data = loaders.read(path, self.max_file_bytes)
            if previous is not None and previous.content_hash == loaders.content_hash(data):
                report.unchanged.append(name)
                return None
            document, chunks = self.parse(data, path, name, self.limits, self.max_chunk_chars)
            if not chunks:
                raise LoadError("no text could be extracted")
            if len(chunks) > self.max_chunks:
                raise LoadError(
                    f"document too long: {len(chunks):,} passages"
                    f" (limit MAX_CHUNKS_PER_DOCUMENT={self.max_chunks:,})"
                )
        except loaders.UnsupportedFile as exc:
            report.skipped.append((name, str(exc)))
            return None
        except LoadError as exc:
            report.failed.append((name, str(exc)))
            return None
        except Exception as exc:  # a parser bug must not stop the other files
            log.exception("unexpected failure loading %s", path)
            report.failed.append((name, f"unexpected error: {exc}"))
            return None
        (report.changed if previous else report.added).append(name)
        report.titles[name] = document.title
        return _Pending(str(path), document, chunks, previous)

    def _commit(self, pending: list[_Pending], report: IngestReport) -> None:
        if not pending:
            return
        fresh: list[Chunk] = []
        stale: list[str] = []
        for item in pending:
            old = set(item.previous.chunk_ids) if item.previous else set()
            new = {c.id for c in item.chunks}
            fresh.extend(c for c in item.chunks if c.id not in old)
            stale.extend(old - new)
        if fresh:
            started = time.perf_counter()
            vectors = self.embedder.embed([c.indexed_text() for c in fresh])
            embedded = time.perf_counter()
            report.embed_seconds += embedded - started
            self._upsert(fresh, vectors)
            report.store_seconds += time.perf_counter() - embedded
        if stale:
            started = time.perf_counter()
            self._delete(stale)
            report.store_seconds += time.perf_counter() - started
        self.manifest.record(
            Entry(
                p.key,
                p.document.id,
                p.document.content_hash,
                p.document.title,
                tuple(c.id for c in p.chunks),
            )
            for p in pending
        )
        report.chunks_embedded += len(fresh)
        report.chunks_written += len(fresh)
        report.chunks_deleted += len(stale)

    def _remove_missing(
        self,
        entries: dict[str, Entry],
        files: list[Path],
        folders: list[Path],
        paths: Sequence[Path],
        report: IngestReport,
    ) -> None:
        present = {str(f) for f in files}
        named = {str(p.resolve()) for p in paths} | {
            str(p.parent.resolve() / p.name) for p in paths
        }
        gone = [
            e
            for key, e in entries.items()
            if key not in present
            and (key in named or any(_is_under(key, folder) for folder in folders))
        ]
        if not gone:
            return
        ids = [i for e in gone for i in e.chunk_ids]
        self._delete(ids)
        self.manifest.remove(e.key for e in gone)
        report.removed.extend(display_source(Path(e.key), self.source_base) for e in gone)
        report.chunks_deleted += len(ids)

    def _forget_lost_files(self, stored: set[str]) -> None:
        """Files whose chunks are no longer in the store (a Chroma server that lost its data,
        a new collection) are dropped from the manifest, so this ingest writes them again."""
        entries = self.manifest.entries()
        lost = [e.key for e in entries.values() if not stored.issuperset(e.chunk_ids)]
        if lost:
            log.warning(
                "%d files lost their chunks from the store; ingesting them again", len(lost)
            )
            self.manifest.remove(lost)

    def _delete_orphans(self, entries: dict[str, Entry], stored: set[str]) -> int:
        known = {i for e in entries.values() for i in e.chunk_ids}
        orphans = stored - known
        if orphans:
            log.info("deleting %d chunks left by an interrupted ingest", len(orphans))
            self._delete(sorted(orphans))
        return len(orphans)

    def _upsert(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        self.before_write()
        self.store.upsert(chunks, vectors)

    def _delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.before_write()
            self.store.delete(ids)


def _is_under(key: str, folder: Path) -> bool:
    return key.startswith(str(folder).rstrip(os.sep) + os.sep)
