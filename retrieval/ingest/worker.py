"""Documents are parsed and chunked in a worker process, not in the process that serves.

Parsing runs hostile bytes through parsers and patterns written in C: a pattern that
backtracks holds the interpreter's lock for as long as it runs, so in a thread it would
still freeze the bot's event loop (an upload once froze every chat for 20 s). In a worker
process it freezes nothing else, and a parse that takes longer than `MAX_PARSE_SECONDS` is
refused and its worker replaced. One worker per process, started on the first parse (an
ingest of unchanged files starts none) and shared by every ingest; parses take turns.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import multiprocessing.pool
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from retrieval.errors import LoadError
from retrieval.ingest import loaders
from retrieval.ingest.chunking import chunk_document
from retrieval.types import Chunk, Document

log = logging.getLogger(__name__)

# (bytes, path, source, limits, max chunk chars) → the document and its chunks
Parse = Callable[[bytes, Path, str, loaders.Limits, int], tuple[Document, list[Chunk]]]


def parse_and_chunk(
    data: bytes, path: Path, source: str, limits: loaders.Limits, max_chunk_chars: int
) -> tuple[Document, list[Chunk]]:
    """A file's bytes as a Document and its chunks (LoadError with the reason if it cannot)."""
    document = loaders.parse(data, path, source, limits)
    return document, chunk_document(document, max_chunk_chars)


def _ready(function: Parse) -> bool:
    """Nothing: receiving `function` imports its module in the worker, before any timing."""
    return callable(function)


class ParseWorker:
    """`function` (by default `parse_and_chunk`; it must be importable) in a child process,
    with a time limit: `limits.max_parse_seconds`."""

    def __init__(self, function: Parse = parse_and_chunk) -> None:
        self.function = function
        self._pool: multiprocessing.pool.Pool | None = None
        self._lock = threading.Lock()

    def __call__(
        self, data: bytes, path: Path, source: str, limits: loaders.Limits, max_chunk_chars: int
    ) -> tuple[Document, list[Chunk]]:
        with self._lock:
            pool = self._started()
            pending = pool.apply_async(self.function, (data, path, source, limits, max_chunk_chars))
            try:
                return pending.get(timeout=limits.max_parse_seconds)
            except multiprocessing.TimeoutError:
                log.warning("parsing %s took too long; replacing the parse worker", source)
                self.close()
                raise LoadError(
                    f"reading it took longer than {limits.max_parse_seconds:,.0f} s"
                    " (limit MAX_PARSE_SECONDS): refused"
                ) from None

    def _started(self) -> multiprocessing.pool.Pool:
        if self._pool is None:
            # spawn: a fresh interpreter, not a fork of one holding a model and threads.
            with _main_script_hidden():
                pool = multiprocessing.get_context("spawn").Pool(1)
            pool.apply(_ready, (self.function,))  # imports done before any parse is timed
            self._pool = pool
        return self._pool

    def close(self) -> None:
        """Stop the worker (the next parse starts another)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
            pool.join()


@contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Start processes without the caller's main script: a spawned child runs the parent's
    `__main__` file again before its first task, so a script that calls `Archive.ingest` at
    its top level, without `if __name__ == "__main__":`, would ingest again in the worker and
    wait forever for the parent's write lock. The worker needs nothing of that script."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


_worker = ParseWorker()
atexit.register(_worker.close)


def parse_in_worker(
    data: bytes, path: Path, source: str, limits: loaders.Limits, max_chunk_chars: int
) -> tuple[Document, list[Chunk]]:
    """`parse_and_chunk` in this process's parse worker (see the module's docstring)."""
    return _worker(data, path, source, limits, max_chunk_chars)
