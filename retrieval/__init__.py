"""citebot's retrieval core: ingest documents, search them, answer with citations.

Nothing here knows about Telegram; `bot` builds on this package, never the reverse.
"""

from retrieval.archive import Archive, ArchiveStats
from retrieval.errors import (
    CitebotError,
    DataNotWritable,
    IndexCorrupt,
    IndexMismatch,
    IndexUnavailable,
    InvalidQuestion,
    LoadError,
    ReaderUnavailable,
    SpeechError,
    UnsupportedFile,
)
from retrieval.ingest.pipeline import IngestReport
from retrieval.settings import RetrievalSettings
from retrieval.types import Answer, Chunk, Citation, Document, Hit

__all__ = [
    "Answer",
    "Archive",
    "ArchiveStats",
    "Chunk",
    "Citation",
    "CitebotError",
    "DataNotWritable",
    "Document",
    "Hit",
    "IndexCorrupt",
    "IndexMismatch",
    "IndexUnavailable",
    "IngestReport",
    "InvalidQuestion",
    "LoadError",
    "ReaderUnavailable",
    "RetrievalSettings",
    "SpeechError",
    "UnsupportedFile",
]
