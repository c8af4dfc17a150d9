"""The ingest manifest: for each source file, its content hash and the ids of its chunks.

It lives in SQLite beside the index, so each change is one atomic transaction: a killed ingest
leaves either the old or the new record of a file, never half of one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import DataNotWritable, IndexCorrupt

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    key TEXT PRIMARY KEY,
    document_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,
    ingested_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""


@dataclass(frozen=True)
class Entry:
    """What the manifest remembers of one file."""

    key: str
    document_id: str
    content_hash: str
    title: str
    chunk_ids: tuple[str, ...]


class Manifest:
    """Source key (absolute path) → content hash and chunk ids."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except (sqlite3.DatabaseError, OSError) as exc:
            denied = DataNotWritable.of(path.parent, exc)
            if denied is not None:
                raise denied from exc
            if isinstance(exc, OSError):
                raise
            raise IndexCorrupt(
                f"the manifest {path} is damaged ({exc}); run `citebot ingest --rebuild`"
            ) from exc

    def entries(self) -> dict[str, Entry]:
        try:
            rows = self._db.execute(
                "SELECT key, document_id, content_hash, title, chunk_ids FROM files"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(
                f"the manifest {self.path} is damaged ({exc}); run `citebot ingest --rebuild`"
            ) from exc
        return {r[0]: Entry(r[0], r[1], r[2], r[3], tuple(json.loads(r[4]))) for r in rows}

    def record(self, entries: Iterable[Entry]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO files (key, document_id, content_hash, title, chunk_ids)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (e.key, e.document_id, e.content_hash, e.title, json.dumps(list(e.chunk_ids)))
                    for e in entries
                ],
            )

    def remove(self, keys: Iterable[str]) -> None:
        with self._db:
            self._db.executemany("DELETE FROM files WHERE key = ?", [(k,) for k in keys])

    def close(self) -> None:
        self._db.close()
