"""Incremental ingestion with the real model and a real Chroma in a temporary folder."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.index.embedding import Embedder, EmbedderIdentity
from retrieval.ingest.manifest import Manifest


class CountingEmbedder:
    """The real embedder, counting what it is asked to embed; can be told to fail."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.texts = 0
        self.fail_after: int | None = None

    @property
    def identity(self) -> EmbedderIdentity:
        return self.inner.identity

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_after is not None and self.texts + len(texts) > self.fail_after:
            raise RuntimeError("simulated crash in the middle of an ingest")
        self.texts += len(texts)
        return self.inner.embed(texts)


@pytest.fixture
def counting(embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


def write_news(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"story-{i:02d}.txt").write_text(
            f"date 2024-03-{i % 28 + 1:02d} Story number {i} about the harbour.\n\n"
            f"The harbour master number {i} reported {i * 3} ships on a quiet day.\n",
            encoding="utf-8",
        )


def manifest_ids(settings: Settings) -> list[str]:
    manifest = Manifest(settings.data_dir / "manifest.sqlite3")
    try:
        return [i for e in manifest.entries().values() for i in e.chunk_ids]
    finally:
        manifest.close()


def assert_consistent(archive: Archive) -> None:
    """Store, manifest and lexical index hold exactly the same chunks, none twice."""
    listed = manifest_ids(archive.settings)  # type: ignore[arg-type]
    assert len(listed) == len(set(listed))
    assert archive.store.ids() == set(listed)
    assert archive.store.count() == len(listed)
    assert sorted(archive.lexical.ids) == sorted(listed)


def test_rerun_changes_nothing_and_embeds_nothing(
    make_settings: Callable[..., Settings], corpus_dir: Path, counting: CountingEmbedder
) -> None:
    write_news(corpus_dir, 5)
    archive = Archive(make_settings(), embedder=counting)
    first = archive.ingest()
    assert len(first.added) == 6 and not first.failed
    embedded = counting.texts
    generation = archive.store.generation()

    second = archive.ingest()
    assert len(second.unchanged) == 6
    assert not (second.added or second.changed or second.removed)
    assert counting.texts == embedded
    assert archive.store.generation() == generation
    assert_consistent(archive)


def test_edited_and_deleted_files_are_followed(
    make_settings: Callable[..., Settings], corpus_dir: Path, counting: CountingEmbedder
) -> None:
    write_news(corpus_dir, 3)
    archive = Archive(make_settings(), embedder=counting)
    archive.ingest()
    before = counting.texts

    story = corpus_dir / "story-01.txt"
    story.write_text(
        story.read_text(encoding="utf-8") + "\nA lighthouse keeper saw a whale.\n", encoding="utf-8"
    )
    (corpus_dir / "story-02.txt").unlink()
    report = archive.ingest()

    assert report.changed == ["corpus/story-01.txt"]
    assert report.removed == ["corpus/story-02.txt"]
    assert counting.texts - before == report.chunks_embedded > 0
    assert_consistent(archive)
    titles = {d.title for d in archive.stats().newest}
    assert "Story number 2 about the harbour." not in titles
    hits = archive.search("lighthouse keeper whale")
    assert "whale" in hits[0].chunk.text


def test_failed_files_are_reported_and_the_rest_is_ingested(
    make_settings: Callable[..., Settings], corpus_dir: Path, counting: CountingEmbedder
) -> None:
    (corpus_dir / "empty.txt").write_bytes(b"")
    (corpus_dir / "binary.txt").write_bytes(b"\x00\xff" * 100)
    (corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus_dir / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    archive = Archive(make_settings(), embedder=counting)
    report = archive.ingest()
    failed = dict(report.failed)
    assert set(failed) == {"corpus/empty.txt", "corpus/binary.txt", "corpus/broken.pdf"}
    assert "empty" in failed["corpus/empty.txt"]
    assert "binary" in failed["corpus/binary.txt"]
    assert "PDF" in failed["corpus/broken.pdf"]
    assert [name for name, _ in report.skipped] == ["corpus/photo.jpg"]
    assert report.added == ["corpus/us-warned-russia-crocus-city-hall.txt"]
    assert archive.stats().documents == 1


def test_a_file_that_vanishes_during_ingest_is_reported(
    make_settings: Callable[..., Settings], corpus_dir: Path, counting: CountingEmbedder
) -> None:
    write_news(corpus_dir, 3)
    archive = Archive(make_settings(), embedder=counting)

    def delete_next(done: int, total: int, name: str) -> None:
        if name == "story-00.txt":
            (corpus_dir / "story-01.txt").unlink()

    report = archive.ingest(progress=delete_next)
    assert dict(report.failed) == {
        "corpus/story-01.txt": "file disappeared before it could be read"
    }
    assert len(report.added) == 3
    assert_consistent(archive)
    assert archive.ingest().failed == []  # the next run just forgets it


def test_an_interrupted_ingest_leaves_a_usable_index_and_the_rerun_completes_it(
    make_settings: Callable[..., Settings], corpus_dir: Path, counting: CountingEmbedder
) -> None:
    write_news(corpus_dir, 40)
    settings = make_settings(ingest_commit_chunks=32)
    archive = Archive(settings, embedder=counting)
    archive.ingest([corpus_dir / "story-00.txt"])
    counting.fail_after = counting.texts + 40  # the first commit succeeds, the second fails
    with pytest.raises(RuntimeError, match="simulated crash"):
        archive.ingest()

    # The archive still answers from what it had.
    assert archive.search("harbour master")
    counting.fail_after = None
    assert 1 < len(manifest_ids(settings)) < 41
    reopened = Archive(settings, embedder=counting)
    report = reopened.ingest()
    assert not report.failed
    assert_consistent(reopened)
    assert reopened.stats().documents == 41
    chunk_ids = [c.id for c in reopened.store.scan()]
    assert not [i for i, n in Counter(chunk_ids).items() if n > 1]


def test_ingesting_an_explicit_file_outside_the_corpus(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    tmp_path: Path,
    counting: CountingEmbedder,
) -> None:
    extra = tmp_path / "elsewhere" / "note.md"
    extra.parent.mkdir()
    extra.write_text("# Ferry timetable\n\nThe ferry leaves at nine.\n", encoding="utf-8")
    archive = Archive(make_settings(), embedder=counting)
    archive.ingest()
    report = archive.ingest([extra])
    assert report.added == ["elsewhere/note.md"]
    assert archive.stats().documents == 2  # ingesting one file removes nothing else
    assert archive.ingest([tmp_path / "missing.txt"]).failed == [
        (str(tmp_path / "missing.txt"), "no such file or folder")
    ]


def test_chunks_written_but_not_recorded_are_cleaned_up_on_the_next_run(
    make_settings: Callable[..., Settings],
    corpus_dir: Path,
    counting: CountingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A crash between the store write and the manifest commit leaves orphan chunks."""
    write_news(corpus_dir, 3)
    settings = make_settings()

    def crash(self: Manifest, entries: object) -> None:
        raise RuntimeError("killed before the manifest commit")

    with monkeypatch.context() as patch:
        patch.setattr(Manifest, "record", crash)
        with pytest.raises(RuntimeError, match="killed"):
            Archive(settings, embedder=counting).ingest()
    archive = Archive(settings, embedder=counting)
    assert archive.store.count() == 7 and manifest_ids(settings) == []  # 4 + 3 chunks
    report = archive.ingest()
    assert report.orphans_deleted == 7
    assert len(report.added) == 4
    assert_consistent(archive)
