"""The lexical side of the index: BM25 (bm25s, English stemming) over every chunk, plus a
catalog of documents. It is a snapshot of the store, stamped with the store's generation, so
any process can tell whether its copy is current and rebuild it from the store if not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import math
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import bm25s
import numpy as np

from retrieval.errors import IndexCorrupt
from retrieval.text import terms
from retrieval.types import Chunk

log = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG on import, which would print "Building index from tokens"
# on every ingest whatever the application's logging level.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_META = "snapshot.json"
IDF_MIN_CHUNKS = 1000


@dataclass(frozen=True)
class DocumentInfo:
    """What the catalog knows of an indexed document."""

    id: str
    title: str
    source: str
    chunks: int
    date: str | None = None  # ISO date
    url: str | None = None

    @property
    def day(self) -> dt.date | None:
        return dt.date.fromisoformat(self.date) if self.date else None


class LexicalIndex:
    """BM25 over chunk texts (with title and heading); searchable, savable, rebuildable."""

    def __init__(
        self,
        ids: list[str],
        retriever: bm25s.BM25 | None,
        date_ords: np.ndarray,
        document_ids: list[str],
        documents: dict[str, DocumentInfo],
        df: dict[str, int],
        generation: str,
        bm25: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.ids = ids
        self.bm25 = bm25  # (k1, b) the BM25 scores were built with
        self.generation = generation
        self.documents = documents
        self._retriever = retriever
        self._date_ords = date_ords
        self._document_ids = document_ids
        self._df = df
        self._n = len(ids)
        self._position = {chunk_id: i for i, chunk_id in enumerate(ids)}

    @classmethod
    def build(cls, chunks: Iterable[Chunk], generation: str, k1: float, b: float) -> LexicalIndex:
        """BM25 (saturation k1, length normalisation b: `SearchParams`) over the chunks."""
        ids: list[str] = []
        tokens: list[list[str]] = []
        ords: list[int] = []
        document_ids: list[str] = []
        per_doc: Counter[str] = Counter()
        docs: dict[str, DocumentInfo] = {}
        df: Counter[str] = Counter()
        for chunk in chunks:
            ids.append(chunk.id)
            chunk_terms = terms(chunk.indexed_text())
            tokens.append(chunk_terms)
            df.update(set(chunk_terms))
            ords.append(chunk.date.toordinal() if chunk.date else 0)
            document_ids.append(chunk.document_id)
            per_doc[chunk.document_id] += 1
            if chunk.document_id not in docs:
                docs[chunk.document_id] = DocumentInfo(
                    id=chunk.document_id,
                    title=chunk.title,
                    source=chunk.source,
                    chunks=0,
                    date=chunk.date.isoformat() if chunk.date else None,
                    url=chunk.url,
                )
        documents = {
            d: DocumentInfo(**{**asdict(info), "chunks": per_doc[d]}) for d, info in docs.items()
        }
        retriever = None
        if ids:
            retriever = bm25s.BM25(k1=k1, b=b)
            # A chunk with no terms still needs a row; an impossible token keeps it unmatched.
            retriever.index([t or ["\x00"] for t in tokens], show_progress=False)
        return cls(
            ids,
            retriever,
            np.asarray(ords, dtype=np.int64),
            document_ids,
            documents,
            dict(df),
            generation,
            (k1, b),
        )

    def __len__(self) -> int:
        return self._n

    @functools.cached_property
    def dated(self) -> bool:
        """Whether any indexed document is dated."""
        return any(d.date for d in self.documents.values())

    def document_of(self, chunk_id: str) -> DocumentInfo | None:
        """The catalog entry of the document a chunk belongs to (None for unknown chunks)."""
        i = self._position.get(chunk_id)
        return None if i is None else self.documents.get(self._document_ids[i])

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term (BM25's smoothed form).

        A small archive is read as a sample of a larger one (at least IDF_MIN_CHUNKS chunks):
        in a one-article archive every term of the article is in every chunk, and would
        otherwise weigh nothing beside a word of the question that it happens not to use.
        """
        n = self._df.get(term, 0)
        total = max(self._n, IDF_MIN_CHUNKS)
        return math.log(1 + (total - n + 0.5) / (n + 0.5))

    def search(
        self, query_terms: list[str], k: int, date_range: tuple[int, int] | None = None
    ) -> list[tuple[str, float]]:
        """Up to k (chunk id, BM25 score) pairs with a positive score, best first."""
        if self._retriever is None or not query_terms:
            return []
        known = [t for t in query_terms if t in self._df]
        if not known:
            return []
        mask = None
        if date_range is not None:
            low, high = date_range
            mask = ((self._date_ords >= low) & (self._date_ords <= high)).astype(np.float32)
            if not mask.any():
                return []
        k = min(k, self._n)
        docs, scores = self._retriever.retrieve(
            [known], k=k, show_progress=False, weight_mask=mask, n_threads=1
        )
        return [
            (self.ids[int(i)], float(s)) for i, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]

    def save(self, folder: Path) -> None:
        """Write the snapshot to a private temporary folder, then rename it into place, so a
        reader (in this or another process) sees the old snapshot or the new one, whole."""
        unique = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp = folder.with_name(f".{folder.name}.tmp-{unique}")
        old = folder.with_name(f".{folder.name}.old-{unique}")
        tmp.mkdir(parents=True)
        try:
            if self._retriever is not None:
                self._retriever.save(str(tmp), show_progress=False)
            meta = {
                "generation": self.generation,
                "bm25": list(self.bm25),
                "ids": self.ids,
                "date_ords": self._date_ords.tolist(),
                "document_ids": self._document_ids,
                "documents": [asdict(d) for d in self.documents.values()],
                "df": self._df,
            }
            with open(tmp / _META, "w", encoding="utf-8") as fh:
                json.dump(meta, fh)
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileNotFoundError):
                folder.rename(old)
            try:
                tmp.rename(folder)
            except OSError:
                # Another process put its snapshot there first; it is as good as ours.
                log.info("lexical snapshot %s was written concurrently; keeping that one", folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read a snapshot; IndexCorrupt if it is missing parts or unreadable."""
        try:
            with open(folder / _META, encoding="utf-8") as fh:
                meta = json.load(fh)
            ids = meta["ids"]
            retriever = bm25s.BM25.load(str(folder), show_progress=False) if ids else None
            documents = {d["id"]: DocumentInfo(**d) for d in meta["documents"]}
            index = cls(
                ids,
                retriever,
                np.asarray(meta["date_ords"], dtype=np.int64),
                meta["document_ids"],
                documents,
                meta["df"],
                meta["generation"],
                tuple(meta.get("bm25", (0.0, 0.0))),
            )
            rows = retriever.scores["num_docs"] if retriever is not None else 0
            if rows != len(ids) or len(index._date_ords) != len(ids):
                raise ValueError(f"{rows} BM25 rows for {len(ids)} chunk ids")
            return index
        except FileNotFoundError as exc:
            raise IndexCorrupt(f"lexical index missing at {folder}") from exc
        except Exception as exc:  # numpy, json and bm25s each fail in their own way
            raise IndexCorrupt(f"lexical index at {folder} is damaged: {exc}") from exc
