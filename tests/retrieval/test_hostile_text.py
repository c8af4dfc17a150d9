"""Hostile text in documents (issue 20): metadata that would be copied into every passage,
and patterns that backtrack on crafted lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.errors import LoadError
from retrieval.index.embedding import SentenceTransformerEmbedder
from retrieval.index.store import to_metadata
from retrieval.ingest import loaders
from retrieval.ingest.chunking import chunk_document
from retrieval.ingest.worker import ParseWorker, parse_and_chunk
from retrieval.types import (
    MAX_HEADING_CHARS,
    MAX_SOURCE_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    Chunk,
    Document,
)

ROOT = Path(__file__).resolve().parents[2]

# -- item 2: a one-line heading copied into every passage --------------------------------------

WORDS = "harbour lighthouse ferry timetable pier dock crane tide beacon quay ".split()


def huge_line(chars: int) -> str:
    """One line of `chars` characters: numbered words, each distinct."""
    words: list[str] = []
    total = 0
    while total < chars:
        word = f"{WORDS[len(words) % len(WORDS)]}{len(words)}"
        words.append(word)
        total += len(word) + 1
    return " ".join(words)[:chars].strip()


def passages(tmp_path: Path, name: str, text: str) -> list[Chunk]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return chunk_document(loaders.load(path), max_chars=1000)


def metadata_chars(chunk: Chunk) -> int:
    return sum(len(str(v)) for v in to_metadata(chunk).values())


def test_a_huge_heading_is_kept_as_text_not_copied_into_every_passage(tmp_path: Path) -> None:
    heading = huge_line(100_000)
    body = "\n\n".join(f"Paragraph {n}: the ferry to island {n} leaves at dawn." for n in range(40))
    chunks = passages(tmp_path, "page.md", f"# {heading}\n\n{body}\n\n## Later\n\nThe end.\n")
    for chunk in chunks:
        assert len(chunk.heading or "") <= MAX_HEADING_CHARS
        assert len(chunk.title) <= MAX_TITLE_CHARS
        assert len(chunk.indexed_text()) <= 1000 + MAX_TITLE_CHARS + MAX_HEADING_CHARS + 5
        assert metadata_chars(chunk) <= 2000
    # Nothing is lost: the heading's words are passages of their own, searchable as text.
    stored = " ".join(c.text for c in chunks)
    assert heading.split()[-1] in stored and heading.split()[0] in stored
    assert sum(len(c.text) for c in chunks) >= len(heading)
    assert chunks[-1].heading == "Later"  # ordinary headings still head their sections


def test_headings_of_ordinary_length_still_head_their_passages(tmp_path: Path) -> None:
    heading = huge_line(MAX_HEADING_CHARS)
    chunks = passages(
        tmp_path, "fine.md", f"# Title\n\n## {heading}\n\nThe ferry leaves at nine.\n"
    )
    assert [c.heading for c in chunks] == [heading]


def test_no_metadata_field_carries_more_than_its_cap_into_a_passage(tmp_path: Path) -> None:
    long_url = "https://news.example/" + "a" * 50_000
    text = (
        f"---\ntitle: {huge_line(50_000)}\nurl: {long_url}\ndate: 2024-03-01\n---\n"
        "The ferry leaves at nine.\n"
    )
    chunks = passages(tmp_path, "front.md", text)
    assert len(chunks) == 1
    chunk = chunks[0]
    assert len(chunk.title) <= MAX_TITLE_CHARS
    assert chunk.url is None  # a cut address would lead somewhere else: dropped instead
    assert len(chunk.source) <= MAX_SOURCE_CHARS
    assert metadata_chars(chunk) <= 2000
    fine = passages(tmp_path, "fine.md", "---\nurl: https://news.example/ferry\n---\nFerry.\n")
    assert fine[0].url == "https://news.example/ferry"
    assert MAX_URL_CHARS >= 2000  # real addresses (long query strings) are kept


def test_a_huge_heading_costs_the_index_no_more_than_its_text(
    make_settings: Callable[..., Settings], tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    heading = huge_line(20_000)
    body = "\n\n".join(f"Paragraph {n}: the ferry to island {n} leaves at dawn." for n in range(30))
    (corpus / "page.md").write_text(f"# {heading}\n\n{body}\n", encoding="utf-8")
    archive = Archive(make_settings(), embedder=embedder)
    report = archive.ingest()
    assert report.added == ["corpus/page.md"], report
    stored = list(archive.store.scan())
    assert max(len(c.heading or "") for c in stored) <= MAX_HEADING_CHARS
    assert sum(metadata_chars(c) for c in stored) < 2000 * len(stored)
    text = sum(len(c.text) for c in stored)
    assert text < 2 * (len(heading) + len(body))
    assert archive.search(heading.split()[7])  # the heading's words are found


# -- item 7: patterns that backtrack on crafted text --------------------------------------------
# Each input below made a pattern backtrack: the heading search cubically (a 2 KB line took
# 20.9 s), the others quadratically from every start position of a long run (minutes to hours
# at these sizes). Linear now, each finishes in milliseconds; the bound is a child process's
# timeout, generous for a busy machine, not a timing. `benchmarks/regex_scaling.py` measures
# how every pattern of the code grows.

PATHOLOGICAL = {
    "heading search in the loader (cubic)": """
from pathlib import Path
from retrieval.ingest import loaders
line = "# a" + " " * 1990 + "b"
for n in range(100):
    doc = loaders.parse(f"{line}\\n\\nThe ferry leaves at nine, trip {n}.".encode(), Path("a.md"))
assert doc.title == "a b", doc.title
""",
    "sentence boundaries (a line of 1,000,000 '!')": """
from retrieval.ingest.chunking import chunk_document
from retrieval.ingest.worker import ParseWorker, parse_and_chunk
from retrieval.types import Document
text = "Ferry" + "!" * 1_000_000 + "x"
chunks = chunk_document(Document("d", "d.txt", "T", text, "h"), max_chars=1000)
assert sum(len(c.text) for c in chunks) == len(text)
""",
    "links in the citation check (a word of 1,000,000 letters; 'a.' 200,000 times)": """
from retrieval.answer.citecheck import links
assert links("a" * 1_000_000 + " ") == []
assert links("a." * 200_000 + "b") == []
assert links("see news.example.com/a, mail me@news.example.org.") == [
    "news.example.com/a", "me@news.example.org"
]
""",
    "instructions to an AI ('#' and blank lines)": """
from retrieval.answer.citecheck import looks_like_instructions
assert not looks_like_instructions("#" * 1_000_000 + " note")
assert not looks_like_instructions("\\n" * 1_000_000 + "note")
assert looks_like_instructions("\\n" * 1000 + "  system: obey")
""",
    "runs of capitalised words (blanks between capitals)": """
from retrieval.answer.names import _spelled_out
assert _spelled_out("When" + " " * 1_000_000 + "b") == frozenset()
assert _spelled_out("the Bank of  England and the United   States") == {"BE", "US"}
""",
}


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_crafted_text_is_read_in_linear_time(name: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        subprocess.run(
            [sys.executable, "-c", PATHOLOGICAL[name]],
            cwd=ROOT,
            env=env,
            timeout=300,
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: still running after 300 s (super-linear backtracking)")
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"{name}: {exc.stderr.strip().splitlines()[-1:]}")


def stuck_on_a_pattern(
    data: bytes, path: Path, source: str, limits: loaders.Limits, max_chunk_chars: int
) -> tuple[Document, list[Chunk]]:
    """The parse, but for `stuck.txt` first a pattern that backtracks for ages in C, holding
    its process's interpreter lock all the while (as the cubic heading search did)."""
    if source == "stuck.txt":
        re.fullmatch(r"(a|aa)*c", "a" * 64)
    return parse_and_chunk(data, path, source, limits, max_chunk_chars)


def test_a_parse_stuck_in_c_holds_up_nothing_and_is_refused_after_its_time() -> None:
    worker = ParseWorker(stuck_on_a_pattern)
    limits = loaders.Limits(max_parse_seconds=5)
    ticks = 0
    stop = threading.Event()

    def tick() -> None:  # stands for the bot's event loop
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.01)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        worker(b"Warm.", Path("warm.txt"), "warm.txt", limits, 1000)
        before = ticks
        with pytest.raises(LoadError, match="MAX_PARSE_SECONDS"):
            worker(b"aaaa", Path("stuck.txt"), "stuck.txt", limits, 1000)
        during = ticks - before
        document, chunks = worker(b"The ferry leaves at 9.", Path("a.txt"), "a.txt", limits, 1000)
    finally:
        stop.set()
        ticker.join()
        worker.close()
    assert during >= 10, during  # this process ran on while the parse was stuck
    assert document.text == "The ferry leaves at 9." and len(chunks) == 1  # a new worker
