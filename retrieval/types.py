"""The data that flows through citebot: documents, chunks, hits, citations and answers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

# What a document's metadata may carry into each of its chunks: the title and the heading go
# into the embedded and the BM25 text of every passage, and with the source and the url into
# its Chroma metadata, so one over-long field would be copied once per passage.
MAX_TITLE_CHARS = 300
MAX_HEADING_CHARS = 300  # a longer markdown heading line is kept as text, not as a heading
MAX_SOURCE_CHARS = 1000
MAX_URL_CHARS = 4096  # a longer url is dropped (cut, it would lead somewhere else)


@dataclass(frozen=True)
class Document:
    """One source file, parsed: its text and what is known about it."""

    id: str
    source: str  # path relative to the corpus folder, or a URL
    title: str
    text: str
    content_hash: str
    date: date | None = None
    url: str | None = None
    # (character offset, page number) where each PDF page starts; empty for other formats.
    pages: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, small enough to embed, understandable on its own."""

    id: str
    document_id: str
    text: str  # verbatim slice document.text[start:end]
    start: int
    end: int
    position: int
    title: str
    source: str
    heading: str | None = None
    date: date | None = None
    url: str | None = None
    location: str = ""  # "paragraph 3", "page 2, paragraph 1"

    def indexed_text(self) -> str:
        """The text that is embedded and indexed: title and heading give the passage context."""
        head = self.title if not self.heading else f"{self.title} — {self.heading}"
        return f"{head}\n{self.text}"


@dataclass(frozen=True)
class Hit:
    """A chunk found for a question, with its fused score and which retrievers found it."""

    chunk: Chunk
    score: float
    retrievers: frozenset[str] = frozenset()
    dense_similarity: float | None = None  # cosine similarity, when the dense retriever found it
    lexical_score: float | None = None


@dataclass(frozen=True)
class Citation:
    """A numbered, checkable reference: where the quoted words stand in the archive."""

    n: int
    chunk_id: str
    title: str
    source: str
    quote: str  # verbatim text from the chunk
    passage: str  # the whole chunk, for "open the passage"
    date: date | None = None
    url: str | None = None
    location: str = ""
    highlights: tuple[tuple[int, int], ...] = ()  # the answer's place in `quote` (offsets)

    @property
    def link(self) -> str:
        return self.url or self.source

    @classmethod
    def from_chunk(
        cls,
        n: int,
        chunk: Chunk,
        quote: str,
        passage: str | None = None,
        highlights: tuple[tuple[int, int], ...] = (),
    ) -> Citation:
        """Citation number n of `chunk`, quoting `quote` (the answer at `highlights`);
        `passage` is the chunk's text as shown to the reader (default: the whole chunk)."""
        return cls(
            highlights=highlights,
            n=n,
            chunk_id=chunk.id,
            title=chunk.title,
            source=chunk.source,
            quote=quote,
            passage=chunk.text if passage is None else passage,
            date=chunk.date,
            url=chunk.url,
            location=chunk.location,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        day = data.get("date")
        marks = tuple((int(a), int(b)) for a, b in data.get("highlights", ()))
        return cls(
            **{**data, "date": date.fromisoformat(day) if day else None, "highlights": marks}
        )


@dataclass(frozen=True)
class Answer:
    """The reply to a question: text whose `[n]` markers all resolve to `citations`.

    When `refused` is true the archive had no good evidence: `text` says so and `citations`
    are the nearest sources, offered for the reader to check.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    confidence: float
    refused: bool = False
    composer: str = "extractive"
    notes: tuple[str, ...] = field(default=())
    follow_up_of: str | None = None  # the earlier question this one was read together with
    llm_calls: int = 0  # language-model calls it took (the bot counts them against a quota)
    highlights: tuple[tuple[int, int], ...] = ()  # where the answer stands in `text` (offsets)

    def to_dict(self) -> dict[str, Any]:
        """The answer as JSON-ready data (dates as ISO strings); `from_dict` reads it back."""
        data = asdict(self)
        for citation in data["citations"]:
            citation["date"] = citation["date"].isoformat() if citation["date"] else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        known = {f for f in cls.__dataclass_fields__ if f in data}
        values = {f: data[f] for f in known}
        values["citations"] = tuple(Citation.from_dict(c) for c in data["citations"])
        values["notes"] = tuple(data.get("notes", ()))
        values["highlights"] = tuple((int(a), int(b)) for a, b in data.get("highlights", ()))
        return cls(**values)
