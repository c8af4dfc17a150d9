"""The archive: one object that wires store, embedder, lexical index, manifest and composer.

Front ends (the CLI, the Telegram bot, the evaluation) talk to this and nothing deeper.
It is safe to use from several threads: questions run concurrently, an ingest holds a lock
and swaps in the new lexical index when it is done.
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
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from retrieval.answer.extractive import Composer, ExtractiveComposer
from retrieval.answer.llm import AnswerStream, LLMComposer
from retrieval.errors import IndexCorrupt, IndexUnavailable, InvalidQuestion
from retrieval.index.embedding import Embedder, SentenceTransformerEmbedder
from retrieval.index.lexical import DocumentInfo, LexicalIndex
from retrieval.index.store import WRITING_PREFIX, ChromaStore, MarkedStore, Store
from retrieval.ingest.manifest import Manifest
from retrieval.ingest.pipeline import Ingestor, IngestReport, Progress
from retrieval.search import dates
from retrieval.search.hybrid import Searcher, SearchParams, Stages
from retrieval.settings import RetrievalSettings
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
        self._refresh_lock = threading.Lock()
        self._refreshed_at = time.monotonic()
        self._lexical_dir = settings.data_dir / "lexical"
        self.lexical = self._load_lexical()
        self.extractive = self._extractive()
        # With LLM_PROVIDER set, answers come from the LLM, checked, with the extractive
        # composer as the fallback; `ask(..., use_llm=False)` skips the LLM (e.g. over quota).
        self.llm: LLMComposer | None = None
        if settings.llm_provider != "none":
            self.llm = LLMComposer.from_settings(settings, self.extractive, self.extractive.idf)
        self.composer: Composer = composer or self.llm or self.extractive

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
                self._forget_lost_files(manifest)
                ingestor = Ingestor(
                    MarkedStore(self.store, uuid.uuid4().hex),
                    self.embedder,
                    manifest,
                    max_chunk_chars=self.settings.chunk_max_chars,
                    max_file_bytes=int(self.settings.max_file_mb * 1024 * 1024),
                    batch_chunks=self.settings.ingest_commit_chunks,
                    source_base=self.settings.corpus_dir.resolve().parent,
                )
                report = ingestor.run(paths, progress)
            finally:
                manifest.close()
            generation = self.store.generation()
            if (
                report.changed_anything
                or self.lexical.generation != generation
                or generation.startswith(WRITING_PREFIX)
            ):
                self._publish(uuid.uuid4().hex)
        return report

    def rebuild(self, progress: Progress | None = None) -> IngestReport:
        """Start over: drop the manifest and the lexical snapshots, re-ingest the corpus.

        Without a manifest every chunk in the store is an orphan, so the ingest deletes them
        all before writing the corpus again: no duplicates, nothing stale.
        """
        with self._write_lock:
            discard_index_files(self.settings, vector_store=False)
        return self.ingest(None, progress)

    def _forget_lost_files(self, manifest: Manifest) -> None:
        """Files whose chunks are no longer in the store (a Chroma server that lost its data,
        a new collection) are dropped from the manifest, so this ingest writes them again."""
        entries = manifest.entries()
        if not entries:
            return
        stored = self.store.ids()
        lost = [e.key for e in entries.values() if not stored.issuperset(e.chunk_ids)]
        if lost:
            log.warning(
                "%d files lost their chunks from the store; ingesting them again", len(lost)
            )
            manifest.remove(lost)

    def _publish(self, generation: str) -> None:
        """Swap in a lexical index of the store as it is now, under a new generation token.

        The snapshot is saved before the token is set, so a reader in another process that
        sees the new token finds the snapshot on disk instead of scanning the store.
        """
        previous = self.lexical.generation
        lexical = LexicalIndex.build(self.store.scan(), generation)
        self._save_lexical(lexical)
        self.store.set_generation(generation)
        self.lexical = lexical
        self._prune_snapshots(keep={generation, previous})

    def _snapshot_dir(self, generation: str) -> Path | None:
        """Where the snapshot of a published generation lives; None for tokens that no
        snapshot may claim (empty, foreign, or an ingest still writing)."""
        if not _TOKEN.fullmatch(generation) or generation.startswith(WRITING_PREFIX):
            return None
        return self._lexical_dir / generation

    def _save_lexical(self, lexical: LexicalIndex) -> None:
        folder = self._snapshot_dir(lexical.generation)
        if folder is None or folder.exists():
            return
        try:
            lexical.save(folder)
        except OSError as exc:  # a full disk costs the next process a rebuild, nothing more
            log.warning("could not save the lexical index: %s", exc)

    def _prune_snapshots(self, keep: set[str]) -> None:
        """Delete snapshots other than `keep`, and temporary folders a killed save left."""
        try:
            entries = list(self._lexical_dir.iterdir())
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

    def _load_lexical(self) -> LexicalIndex:
        """The lexical index for the store's current generation: the saved snapshot if there
        is a whole one, else rebuilt from the store (and saved for the next process)."""
        generation = self.store.generation()
        folder = self._snapshot_dir(generation)
        if folder is not None and folder.exists():
            try:
                lexical = LexicalIndex.load(folder)
                if lexical.generation == generation:
                    return lexical
                log.warning("lexical snapshot %s holds another generation", folder)
            except IndexCorrupt as exc:
                log.warning("%s; rebuilding it from the store", exc)
            shutil.rmtree(folder, ignore_errors=True)
        lexical = LexicalIndex.build(self.store.scan(), generation)
        if len(lexical):
            self._save_lexical(lexical)
        return lexical

    def refresh(self) -> bool:
        """Reload the lexical index if another process changed the store; True if it did.

        Questions keep using the current index while one thread reloads; an ingest in this
        process swaps in its own index when it is done, so it is not reloaded meanwhile.
        """
        self._refreshed_at = time.monotonic()
        if self._write_lock.locked() or self.store.generation() == self.lexical.generation:
            return False
        with self._refresh_lock:
            if self.store.generation() == self.lexical.generation:
                return False  # another thread reloaded it while this one waited
            self.lexical = self._load_lexical()
        return True

    def _refresh_if_due(self) -> None:
        """In server mode, look for another process's changes every `index_refresh_seconds`."""
        if not self.settings.chroma_is_remote:
            return
        if time.monotonic() - self._refreshed_at >= self.settings.index_refresh_seconds:
            self.refresh()

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
        """The best passages for a question, with any date constraint it states applied."""
        return self.search_stages(question, k).final

    def search_stages(self, question: str, k: int | None = None, dated: bool = True) -> Stages:
        """Every stage of the search (for `citebot eval`); `dated=False` ignores dates."""
        question = self.check_question(question)
        self._refresh_if_due()
        searcher = Searcher(self.store, self.embedder, self.lexical, self.params)
        k = k or self.settings.search_top_k
        # Dates in a question about an undated archive (an encyclopaedia, papers) are about
        # events, not publication: they stay words of the question.
        constraint = dates.detect(question) if dated and self._has_dates() else None
        if constraint is None:
            return searcher.stages(question, k)
        return dates.dated_stages(searcher, question, k, constraint)

    def _has_dates(self) -> bool:
        """Whether any indexed document is dated (cached per lexical index)."""
        lexical = self.lexical
        if getattr(self, "_dated_for", None) is not lexical:
            self._dated = any(d.date for d in lexical.documents.values())
            self._dated_for = lexical
        return self._dated

    def ask(self, question: str, *, use_llm: bool = True) -> Answer:
        """The answer to a question, with citations; a refusal with nearest sources if weak.

        A question limited to dates that the archive cannot answer from those dates is
        answered from the whole archive instead, with a note saying so. Which of the two hit
        lists to answer from is decided by the cheap extractive composer, so the LLM (unless
        `use_llm=False`, e.g. over quota) is called at most once.
        """
        question = self.check_question(question)
        hits, notes, answer = self._evidence(question)
        if use_llm and self.composer is not self.extractive:
            answer = self.composer.compose(question, hits)
        return _noted(answer, notes)

    def ask_stream(self, question: str, *, use_llm: bool = True) -> AnswerStream:
        """`ask` for a chat front end: iterate for drafts of the LLM's checked answer while it
        writes (none without an LLM), then read `.answer`, the same Answer `ask` gives.

        The question is checked now (InvalidQuestion at once); the search and the model call
        run while the stream is iterated, so iterate it off the event loop.
        """
        question = self.check_question(question)

        def steps() -> Generator[str, None, Answer]:
            hits, notes, answer = self._evidence(question)
            if use_llm and self.llm is not None:
                stream = self.llm.stream(question, hits)
                yield from stream
                answer = stream.answer
            elif use_llm and self.composer is not self.extractive:
                answer = self.composer.compose(question, hits)
            return _noted(answer, notes)

        return AnswerStream(steps())

    def _evidence(self, question: str) -> tuple[list[Hit], tuple[str, ...], Answer]:
        """The hits to answer from, notes on how the question's dates were applied, and the
        extractive answer from those hits.

        If the hits of a date-limited search do not answer the question but the whole
        archive's do, the latter are used (and a note says the sources have other dates).
        """
        stages = self.search_stages(question)
        answer = self.extractive.compose(question, stages.final)
        if answer.refused and stages.filtered:
            hits = self.search_stages(question, dated=False).final
            wider = self.extractive.compose(question, hits)
            if not wider.refused:
                note = (
                    f"Nothing dated {stages.filtered} answers this; these sources have other dates."
                )
                return hits, (note,), wider
        return stages.final, stages.notes, answer

    # -- what the archive holds ---------------------------------------------------------------

    def stats(self, newest: int = 10) -> ArchiveStats:
        try:
            self._refresh_if_due()
        except IndexUnavailable as exc:
            log.warning("showing the last known contents: %s", exc)
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


def _noted(answer: Answer, notes: tuple[str, ...]) -> Answer:
    return replace(answer, notes=(*answer.notes, *notes)) if notes else answer


_TOKEN = re.compile(r"[0-9A-Za-z_-]{1,64}")


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
    data = settings.data_dir
    for name in ("manifest.sqlite3", "manifest.sqlite3-wal", "manifest.sqlite3-shm"):
        (data / name).unlink(missing_ok=True)
    shutil.rmtree(data / "lexical", ignore_errors=True)
    if vector_store and not settings.chroma_is_remote:
        folder = data.resolve() / "chroma"
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
