"""The archive: the one object front ends (the CLI, the Telegram bot, the evaluation) talk to.

It wires the store, the embedder, the index state, the search and the composers, and gives
every question one path (`ask`): checked once, read together with a previous question if it
follows up on it, searched with its dates applied once, judged answerable or not once, then
composed (extractively, or by the LLM when one is configured) into one `AnswerStream`.

It is safe to use from several threads: questions run concurrently, an ingest holds the write
lock and swaps in the new lexical index when it is done.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from retrieval import speech
from retrieval.answer.composer import AnswerStream, Composer
from retrieval.answer.evidence import Evidence, Weighing, weigh
from retrieval.answer.extractive import ExtractiveComposer, refusal
from retrieval.answer.followup import resolve, rewrite_followup
from retrieval.answer.llm import LLMComposer
from retrieval.answer.reader import WEIGHTS, Reader
from retrieval.errors import IndexMismatch, IndexUnavailable, InvalidQuestion
from retrieval.index.embedding import (
    Embedder,
    EmbedderIdentity,
    legacy_identity,
    make_embedder,
    mismatch_message,
)
from retrieval.index.lexical import DocumentInfo, LexicalIndex
from retrieval.index.snapshots import IndexState, discard_index_files
from retrieval.index.store import ChromaStore, Store
from retrieval.ingest.feeds import Feed, FeedRepair, PollReport
from retrieval.ingest.loaders import Limits
from retrieval.ingest.manifest import Manifest
from retrieval.ingest.pages import listing
from retrieval.ingest.pipeline import Ingestor, IngestReport, Progress
from retrieval.ingest.web import LinkResult, Web
from retrieval.search.dated import dated_stages
from retrieval.search.dates import detect
from retrieval.search.hybrid import Searcher, SearchParams, Stages
from retrieval.settings import RetrievalSettings
from retrieval.speech import Transcriber, Transcript, WhisperTranscriber
from retrieval.types import Answer, Hit

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
        params: SearchParams | None = None,
        llm: Composer | None = None,
        reader: Reader | None = None,
        weighing: Weighing | None = None,
        transcriber: Transcriber | None = None,
    ) -> None:
        self.settings = settings
        self.params = params or SearchParams()
        self._embedder = embedder if embedder is not None else make_embedder(settings)
        self._embedder_checked: str | None = None  # the generation it was last checked for
        self._store: Store = store if store is not None else ChromaStore(settings)
        self._index = IndexState(
            self._store,
            settings.lexical_dir,
            self._build_lexical,
            (self.params.bm25_k1, self.params.bm25_b),
        )
        self._refreshed_at = time.monotonic()
        # Speech: the Whisper model is loaded on the first spoken question (or `warm_up_speech`).
        self._transcriber = transcriber
        self._speech_lock = threading.Lock()
        self._vocabulary: tuple[str, speech.Vocabulary] | None = None  # (generation, …)
        self._web: Web | None = None
        self._web_lock = threading.Lock()
        self._pages_ingested: dict[str, tuple[int, int, int]] = {}  # see poll_feeds
        # The reader's weights are checked now (a clear ReaderUnavailable, naming the file and
        # the training command, rather than a failure at the first question).
        self._reader = reader or Reader(
            Path(settings.reader_weights) if settings.reader_weights else WEIGHTS,
            cache_dir=settings.onnx_dir,
        )
        self._reader.verify()
        self._weighing = weighing or Weighing(
            max_sentences=settings.answer_max_sentences,
            refusal_threshold=settings.refusal_threshold,
        )
        self._extractive = ExtractiveComposer()
        # With LLM_PROVIDER set, answers are written by the LLM and checked; `ask(...,
        # use_llm=False)` quotes the archive instead (e.g. when a user's quota is used up).
        self._llm: Composer | None = llm
        self._chat_model: Any = None
        if llm is None and settings.llm_provider != "none":
            composer = LLMComposer.from_settings(settings, self.idf)
            self._llm, self._chat_model = composer, composer.model

    def _build_lexical(self, store: Store, generation: str) -> LexicalIndex:
        p = self.params
        return LexicalIndex.build(store.scan(), generation, k1=p.bm25_k1, b=p.bm25_b)

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 side of the index and the catalog of documents, as of the last refresh."""
        return self._index.lexical

    @property
    def store(self) -> Store:
        return self._store

    @property
    def has_llm(self) -> bool:
        """Whether answers can be written by a language model."""
        return self._llm is not None

    def idf(self, term: str) -> float:
        return self._index.lexical.idf(term)

    def warm_up(self) -> None:
        """Load the embedding model and the reader now rather than on the first question
        (blocking), and check that the index was built by this embedder (IndexMismatch if
        not)."""
        self._embedder.embed(["warm up"])
        self._reader.read("warm up", [("", "Warm up.")])
        self._check_embedder()

    def _check_embedder(self, writing: bool = False) -> None:
        """IndexMismatch if the store holds vectors of another embedder than this archive's.
        A writer records its embedder in a store that records none: an empty one, or one
        built before identities were recorded by the embedder presumed then (torch fp32 of
        the configured model; see `legacy_identity`)."""
        mine = self._embedder.identity
        text = self._store.embedder()
        recorded = EmbedderIdentity.from_json(text)
        legacy = not text
        if legacy:
            if self._store.count() == 0:
                if writing:
                    self._store.set_embedder(mine.to_json())
                return
            recorded = legacy_identity(mine, self._store.dimension())
        if recorded != mine:
            raise IndexMismatch(mismatch_message(recorded, mine, legacy))
        if legacy and writing:
            self._store.set_embedder(mine.to_json())

    # -- ingestion ---------------------------------------------------------------------------

    def ingest(
        self, paths: Sequence[Path] | None = None, progress: Progress | None = None
    ) -> IngestReport:
        """Bring the index in line with the files (default: the corpus and uploads folders)."""
        paths = list(paths) if paths else self.settings.source_dirs()
        # One writer at a time, across processes too (a lock file, and a lease on a Chroma
        # server): another ingest's batch in flight is never mistaken for orphans here.
        with self._index.writing() as mark:
            return self._ingest(paths, progress, mark)

    def _ingest(
        self, paths: Sequence[Path], progress: Progress | None, mark: Callable[[], None]
    ) -> IngestReport:
        """The ingest itself; the caller holds the write lock."""
        settings = self.settings
        manifest = Manifest(settings.manifest_path)

        def before_first_vectors() -> None:
            mark()
            self._check_embedder(writing=True)

        try:
            ingestor = Ingestor(
                self._store,
                _Checked(self._embedder, before_first_vectors),
                manifest,
                max_chunk_chars=settings.chunk_max_chars,
                max_file_bytes=int(settings.max_file_mb * 1024 * 1024),
                batch_chunks=settings.ingest_commit_chunks,
                source_base=settings.corpus_dir.resolve().parent,
                before_write=mark,
                limits=Limits.from_settings(settings),
                max_chunks=settings.max_chunks_per_document,
            )
            report = ingestor.run(paths, progress)
        finally:
            manifest.close()
        started = time.perf_counter()
        self._index.publish_if_stale(report.changed_anything)
        report.lexical_seconds = time.perf_counter() - started
        report.seconds += report.lexical_seconds
        return report

    def rebuild(self, progress: Progress | None = None) -> IngestReport:
        """Start over: drop the manifest and the lexical snapshots, re-ingest the sources.

        Without a manifest every chunk in the store is an orphan, so the ingest deletes them
        all before writing the sources again: no duplicates, nothing stale. The write lock is
        held throughout, so no other ingest runs between the two.
        """
        with self._index.writing() as mark:
            discard_index_files(self.settings, vector_store=False, locked=True)
            # The old vectors (perhaps another embedder's) are all deleted before the first
            # new ones are written, which then record the configured embedder. Killed in
            # between, the index records none and counts as built before identities were.
            mark()
            self._store.set_embedder("")
            stored = self._store.dimension()
            if stored is not None and stored != self._embedder.identity.dimension:
                self._store.clear()  # Chroma keeps a collection's dimension for good
            return self._ingest(self.settings.source_dirs(), progress, mark)

    # -- the web: links and feeds ---------------------------------------------------------------

    @property
    def web(self) -> Web:
        """The fetcher and feed subscriptions (opened on first use, once across threads)."""
        with self._web_lock:
            if self._web is None:
                self._web = Web(self.settings)
            return self._web

    def add_links(self, urls: Sequence[str]) -> tuple[list[LinkResult], IngestReport]:
        """Fetch web pages and ingest them; a page already here (same canonical URL) is
        updated in place."""
        results = self.web.fetch_links(urls)
        fetched = [r.path for r in results if r.path is not None]
        return results, self.ingest(fetched) if fetched else IngestReport()

    def subscribe(self, url: str) -> Feed:
        """Subscribe to an RSS/Atom feed (FetchError if its address may not be fetched)."""
        self.web.fetcher.check_url(url)
        return self.web.feeds.add(url)

    def unsubscribe(self, url: str) -> bool:
        """Drop a subscription (its articles stay); False if there was none."""
        return self.web.unsubscribe(url)

    def repair_feeds(self) -> FeedRepair:
        """Set a damaged feed list aside (kept as a backup) and subscribe again to the feeds
        the saved pages name; a sound one is left as it is."""
        return self.web.repair_feeds()

    def feeds(self) -> tuple[Feed, ...]:
        """The subscriptions and their polling state."""
        return self.web.feeds.list()

    def poll_feeds(self, every_feed: bool = False) -> tuple[PollReport, IngestReport]:
        """One round over the feeds, then the pages folder ingested (new, changed and removed
        articles) if this round changed it or anything in it may not be in the index yet.

        "May not be": the folder differs from what it was when this process last ingested
        it, which is always so for the first round of a process. So pages saved by a round
        that was killed (or whose ingest failed) before they were ingested are ingested by
        the next round, though the feed itself has not changed."""
        report = self.web.poll(every_feed)
        pages = self.settings.pages_dir
        now = listing(pages)
        if not report.changed_files and now == self._pages_ingested:
            return report, IngestReport()
        ingested = self.ingest([pages]) if pages.is_dir() else IngestReport()
        self._pages_ingested = now
        return report, ingested

    def refresh(self) -> bool:
        """Reload the lexical index if another process changed the store; True if it did."""
        self._refreshed_at = time.monotonic()
        return self._index.refresh()

    def _refresh_if_due(self) -> None:
        """Look for another process's changes (an ingest job, `citebot ingest`) every
        `index_refresh_seconds`: the generation token in the collection's metadata is read
        afresh by embedded Chroma too, and a changed one reloads both sides of the index."""
        if time.monotonic() - self._refreshed_at >= self.settings.index_refresh_seconds:
            self.refresh()

    # -- questions ---------------------------------------------------------------------------

    def check_question(self, question: str) -> str:
        """The question, cleaned; InvalidQuestion with a reason a user can act on if it is unfit."""
        # A lone surrogate (from a chat client or undecodable command-line bytes) becomes U+FFFD.
        text = (question or "").encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        cleaned = " ".join(text.split())
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
        """The best passages for a question, with any dates it states applied."""
        return self.search_stages(question, k).final

    def search_stages(self, question: str, k: int | None = None, dated: bool = True) -> Stages:
        """Every stage of the search for a question (for `citebot eval`); `dated=False`
        ignores the dates it states."""
        return self._search(self.check_question(question), k, dated)

    def _search(self, question: str, k: int | None = None, dated: bool = True) -> Stages:
        self._refresh_if_due()
        lexical = self._index.lexical
        if self._embedder_checked != lexical.generation:
            self._check_embedder()  # again whenever another process changed the index
            self._embedder_checked = lexical.generation
        searcher = Searcher(self._store, self._embedder, lexical, self.params)
        k = k or self.settings.search_top_k
        # Dates in a question about an undated archive (an encyclopaedia, papers) are about
        # events, not publication: they stay words of the question.
        constraint = detect(question) if dated and lexical.dated else None
        if constraint is None:
            return searcher.stages(question, k)
        return dated_stages(searcher, question, k, constraint)

    def ask(
        self,
        question: str,
        *,
        previous: str | None = None,
        use_llm: bool = True,
        max_llm_calls: int | None = None,
    ) -> AnswerStream:
        """The answer to a question, with citations, as a stream (drafts while an LLM writes,
        then `.answer`); a refusal with the nearest sources when nothing answers it.

        The question is checked now (InvalidQuestion at once); a follow-up of `previous` is
        read together with it; the search, the model call and the check run while the stream
        is iterated, so iterate it off an event loop. A question limited to dates that nothing
        of those dates answers is answered from every date, with a note saying so. The LLM (if
        configured and `use_llm`) is called once, and never for a refused question; a follow-up
        is rewritten by it (one more call) only if `max_llm_calls` (None: no limit) allows two.
        """
        asked = self.check_question(question)
        budget = 2 if max_llm_calls is None else max_llm_calls
        llm = self._llm if use_llm and budget > 0 else None
        return AnswerStream(self._answer(asked, previous, llm, rewrite=budget > 1))

    def _answer(
        self, asked: str, previous: str | None, llm: Composer | None, rewrite: bool
    ) -> Generator[str, None, Answer]:
        question, follow_up_of, calls = self._standalone(
            asked, previous, llm is not None and rewrite
        )
        hits, evidence, notes = self._evidence(question)
        if not evidence.answerable:
            answer = refusal(question, hits, evidence)
        else:
            composer = llm or self._extractive
            stream = composer.compose(question, hits, evidence)
            yield from stream
            answer = stream.answer
            calls += llm is not None
        return dataclasses.replace(
            answer,
            notes=(*answer.notes, *notes),
            follow_up_of=follow_up_of,
            llm_calls=calls,
        )

    def _standalone(
        self, asked: str, previous: str | None, use_llm: bool
    ) -> tuple[str, str | None, int]:
        """The question to search for, the earlier question it follows up on (if any), and
        the LLM calls spent on reading it (a rewrite of a follow-up costs one)."""
        resolved = resolve(asked, previous, self.settings.max_question_chars)
        if resolved.follow_up_of is None:
            return asked, None, 0
        if use_llm and self._chat_model is not None:
            rewritten = rewrite_followup(
                self._chat_model, resolved.follow_up_of, asked, self.settings.max_question_chars
            )
            log.info("follow-up %r rewritten as %r", asked, rewritten)
            return rewritten, resolved.follow_up_of, 1
        return resolved.question, resolved.follow_up_of, 0

    def _evidence(self, question: str) -> tuple[list[Hit], Evidence, tuple[str, ...]]:
        """The hits to answer from, the evidence they hold, and notes on how the question's
        dates were applied.

        If the hits of a date-limited search do not answer the question but the whole
        archive's do, the latter are used (and a note says the sources have other dates); so
        they are when they hold near misses (sentences the reader takes, about other dates)
        and the limited ones do not: they are what the archive has instead.
        """
        stages = self._search(question)
        evidence = weigh(question, stages.final, self._reader, self._weighing, self.idf)
        if not evidence.answerable and stages.filtered:
            wider = self._search(question, dated=False).final
            wider_evidence = weigh(question, wider, self._reader, self._weighing, self.idf)
            if (
                wider_evidence.answerable
                or (wider_evidence.near_misses and not evidence.near_misses)
                or wider_evidence.confidence > evidence.confidence
            ):
                which = "these sources" if wider_evidence.answerable else "the nearest sources"
                note = f"Nothing dated {stages.filtered} answers this; {which} have other dates."
                return wider, wider_evidence, (note,)
        return stages.final, evidence, stages.notes

    # -- spoken questions ----------------------------------------------------------------------

    def transcribe(
        self, audio: bytes | bytearray | Path, expected_seconds: float | None = None
    ) -> Transcript:
        """The question spoken in a recording, transcribed offline and primed with the names
        this archive holds. A SpeechError (its message fit for a user) when the recording is
        not audio, cut short (shorter than `expected_seconds`), longer than
        `voice_max_seconds`, silent, or not understood.

        Blocking (decoding, the model): run it in a worker thread; one at a time is best on a
        small machine (the model uses `whisper_threads` cores).
        """
        samples = speech.decode(audio, self.settings.voice_max_seconds, expected_seconds)
        vocabulary = self.vocabulary()
        heard = speech.judge(self.transcriber.transcribe(samples, vocabulary.names))
        return dataclasses.replace(heard, text=speech.true_case(heard.text, vocabulary.words))

    @property
    def transcriber(self) -> Transcriber:
        """The speech-to-text model (loaded on first use, once across threads)."""
        with self._speech_lock:
            if self._transcriber is None:
                self._transcriber = WhisperTranscriber(
                    self.settings.whisper_model, threads=self.settings.whisper_threads
                )
            return self._transcriber

    def vocabulary(self) -> speech.Vocabulary:
        """The names this archive's documents use most widely (titles and passages), to
        prime the transcription, and the words they are made of; worked out again when the
        index changes."""
        self._refresh_if_due()
        lexical = self._index.lexical
        cached = self._vocabulary
        if cached is not None and cached[0] == lexical.generation:
            return cached[1]
        texts = ((c.document_id, f"{c.title}\n{c.text}") for c in self._store.scan())
        found = speech.vocabulary(texts)
        self._vocabulary = (lexical.generation, found)
        log.info("primed speech with %d names of the archive", len(found.names))
        return found

    # -- what the archive holds ---------------------------------------------------------------

    def stats(self, newest: int = 10) -> ArchiveStats:
        try:
            self._refresh_if_due()
        except IndexUnavailable as exc:
            log.warning("showing the last known contents: %s", exc)
        lexical = self._index.lexical
        documents = list(lexical.documents.values())
        days = sorted(d.day for d in documents if d.day)
        ordered = sorted(documents, key=lambda d: (d.date or "", d.title), reverse=True)
        return ArchiveStats(
            documents=len(documents),
            chunks=len(lexical),
            first_date=days[0] if days else None,
            last_date=days[-1] if days else None,
            newest=tuple(ordered[:newest]),
        )


class _Checked:
    """The archive's embedder as an ingest uses it: `before` runs once, before the first
    texts are embedded (it checks the store's recorded embedder and records this one)."""

    def __init__(self, inner: Embedder, before: Callable[[], None]) -> None:
        self.inner = inner
        self.name = inner.name
        self._before: Callable[[], None] | None = before

    @property
    def identity(self) -> EmbedderIdentity:
        return self.inner.identity

    def embed(self, texts: Sequence[str]) -> Any:
        if self._before is not None:
            self._before()
            self._before = None
        return self.inner.embed(texts)
