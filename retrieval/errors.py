"""Errors citebot raises on purpose; each carries a message fit to show a user.

CitebotError
 ├── InvalidQuestion      the question is empty, too long, or not text
 ├── LoadError            a file could not be read as a document (reason in the message)
 │    └── UnsupportedFile  a file type citebot does not read
 ├── IndexUnavailable     the vector store cannot be reached right now
 │    └── IndexBusy        another process is writing to the archive; this one waited
 ├── IndexCorrupt         an index file is damaged; `citebot ingest --rebuild` repairs it
 ├── IndexMismatch        the index was built by another embedder; `--rebuild` re-embeds it
 ├── EmbedderUnavailable  the embedding model cannot be loaded or exported
 └── InvalidEvalData      an evaluation data set is missing or malformed (`citebot eval`)
"""

from __future__ import annotations


class CitebotError(Exception):
    """Base of every error citebot raises on purpose."""


class InvalidQuestion(CitebotError):
    """The question cannot be answered as asked."""


class LoadError(CitebotError):
    """A file could not be turned into a document."""


class UnsupportedFile(LoadError):
    """The file's type is not one citebot reads."""


class IndexUnavailable(CitebotError):
    """The vector store did not answer."""


class IndexBusy(IndexUnavailable):
    """Another process is writing to the archive and did not finish in time."""


class IndexCorrupt(CitebotError):
    """A file of the index is damaged."""


class IndexMismatch(CitebotError):
    """The index holds vectors of another embedder (model, backend, precision or dimension)
    than the one configured; mixing them would corrupt the search."""


class EmbedderUnavailable(CitebotError):
    """The configured embedding model cannot be loaded or exported (the message says why)."""


class InvalidEvalData(CitebotError):
    """An evaluation data set (BEIR or SQuAD) is missing or malformed."""
