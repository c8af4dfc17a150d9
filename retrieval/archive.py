"""The archive: one object that wires store, embedder, lexical index, manifest and composer.

Front ends (the CLI, the Telegram bot, the evaluation) talk to this and nothing deeper.
It is safe to use from several threads: questions run concurrently, an ingest holds a lock
and swaps in the new lexical index when it is done.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from retrieval.answer import Composer, ExtractiveComposer
from retrieval.embedding import Embedder, SentenceTransformerEmbedder
from retrieval.errors import IndexCorrupt, InvalidQuestion
from retrieval.ingest import Ingestor, IngestReport, Progress
from retrieval.lexical import DocumentInfo, LexicalIndex
from retrieval.manifest import Manifest
from retrieval.search import Searcher, SearchParams
from retrieval.settings import RetrievalSettings
from retrieval.store import ChromaStore, Store
from retrieval.types import Answer, Chunk, Hit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveStats:
    """What the archive holds."""

    documents: int
    chunks: int
    first_date: date | None
    last_date: date | None
    newest: tuple[DocumentInfo, ...]


class Archive:
    """Ingest files, search passages, answer questions with citations."""

    def __init__(
        self,
        settings: RetrievalSettings,
        embedder: Embedder | None = None,
        store: Store | None = None,
        composer: Composer | None = None,
        params: SearchParams | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedder(
            settings.embedding_model, settings.embedding_device, settings.embedding_batch_size
        )
        self.store: Store = store or ChromaStore(settings)
        self.params = params or SearchParams()
        self._write_lock = threading.Lock()
        self._lexical_dir = settings.data_dir / "lexical"
        self.lexical = self._load_lexical()
        self.composer: Composer = composer or self._extractive()

    def _extractive(self) -> ExtractiveComposer:
        return ExtractiveComposer(
            idf=lambda term: self.lexical.idf(term),
            max_sentences=self.settings.answer_max_sentences,
            refusal_threshold=self.settings.refusal_threshold,
        )

    # -- ingestion ---------------------------------------------------------------------------

    def ingest(
        self, paths: Sequence[Path] | None = None, progress: Progress | None = None
    ) -> IngestReport:
        """Bring the index in line with the files (default: the corpus folder)."""
        paths = list(paths) if paths else [self.settings.corpus_dir]
        with self._write_lock:
            manifest = Manifest(self.settings.data_dir / "manifest.sqlite3")
            try:
                ingestor = Ingestor(
                    self.store,
                    self.embedder,
                    manifest,
                    max_chunk_chars=self.settings.chunk_max_chars,
                    max_file_bytes=int(self.settings.max_file_mb * 1024 * 1024),
                    batch_chunks=max(self.settings.embedding_batch_size * 8, 256),
                    source_base=self.settings.corpus_dir.resolve().parent,
                )
                report = ingestor.run(paths, progress)
            finally:
                manifest.close()
            if report.changed_anything or self.lexical.generation != self.store.generation():
                self._publish(uuid.uuid4().hex)
        return report

    def rebuild(self, progress: Progress | None = None) -> IngestReport:
        """Start over: drop the manifest and the lexical snapshot, re-ingest the corpus."""
        with self._write_lock:
            for name in ("manifest.sqlite3", "manifest.sqlite3-wal", "manifest.sqlite3-shm"):
                (self.settings.data_dir / name).unlink(missing_ok=True)
            shutil.rmtree(self._lexical_dir, ignore_errors=True)
        return self.ingest(None, progress)

    def _publish(self, generation: str) -> None:
        lexical = LexicalIndex.build(self.store.scan(), generation)
        self.store.set_generation(generation)
        if not self.settings.chroma_is_remote or self.settings.data_dir.exists():
            lexical.save(self._lexical_dir)
        self.lexical = lexical

    def _load_lexical(self) -> LexicalIndex:
        generation = self.store.generation()
        try:
            lexical = LexicalIndex.load(self._lexical_dir)
            if lexical.generation == generation:
                return lexical
            log.info("lexical index is stale; rebuilding it from the store")
        except IndexCorrupt as exc:
            if self._lexical_dir.exists():
                log.warning("%s; rebuilding it from the store", exc)
        lexical = LexicalIndex.build(self.store.scan(), generation)
        if len(lexical):
            try:
                lexical.save(self._lexical_dir)
            except OSError as exc:
                log.warning("could not save the lexical index: %s", exc)
        return lexical

    def refresh(self) -> bool:
        """Reload the lexical index if another process changed the store; True if it did."""
        if self.store.generation() == self.lexical.generation:
            return False
        with self._write_lock:
            self.lexical = self._load_lexical()
        return True

    # -- questions ---------------------------------------------------------------------------

    def check_question(self, question: str) -> str:
        """The question, cleaned; InvalidQuestion with a reason a user can act on if it is unfit."""
        cleaned = " ".join((question or "").split())
        if not cleaned:
            raise InvalidQuestion("Please ask a question in words.")
        limit = self.settings.max_question_chars
        if len(cleaned) > limit:
            raise InvalidQuestion(
                f"That question is {len(cleaned):,} characters long;"
                f" please keep it under {limit:,}."
            )
        if not any(ch.isalnum() for ch in cleaned):
            raise InvalidQuestion("Please ask a question in words.")
        return cleaned

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        question = self.check_question(question)
        searcher = Searcher(self.store, self.embedder, self.lexical, self.params)
        return searcher.search(question, k or self.settings.search_top_k)

    def ask(self, question: str) -> Answer:
        """The answer to a question, with citations; a refusal with nearest sources if weak."""
        question = self.check_question(question)
        hits = self.search(question)
        return self.composer.compose(question, hits)

    # -- what the archive holds ---------------------------------------------------------------

    def stats(self, newest: int = 10) -> ArchiveStats:
        documents = list(self.lexical.documents.values())
        dates = sorted(d.day for d in documents if d.day)
        ordered = sorted(documents, key=lambda d: (d.date or "", d.title), reverse=True)
        return ArchiveStats(
            documents=len(documents),
            chunks=len(self.lexical),
            first_date=dates[0] if dates else None,
            last_date=dates[-1] if dates else None,
            newest=tuple(ordered[:newest]),
        )

    def passage(self, chunk_id: str) -> Chunk | None:
        found = self.store.get([chunk_id])
        return found[0] if found else None
