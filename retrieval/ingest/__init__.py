"""Ingestion: files → documents (loaders) → chunks (chunking) → the index (pipeline), with a
manifest of what each source contributed."""

from retrieval.ingest.chunking import chunk_document
from retrieval.ingest.loaders import SUFFIXES, load
from retrieval.ingest.manifest import Entry, Manifest
from retrieval.ingest.pipeline import Ingestor, IngestReport, Progress, discover

__all__ = [
    "SUFFIXES",
    "Entry",
    "IngestReport",
    "Ingestor",
    "Manifest",
    "Progress",
    "chunk_document",
    "discover",
    "load",
]
