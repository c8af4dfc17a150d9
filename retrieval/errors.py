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
 ├── ReaderUnavailable    the reader's weights are missing, damaged or for another base model
 ├── DataNotWritable      DATA_DIR (or a file in it) may not be written by this user
 ├── InvalidEvalData      an evaluation data set is missing or malformed (`citebot eval`)
 └── SpeechError          a spoken question cannot be turned into text
      ├── UnreadableAudio  not audio, damaged, or cut short in transit
      ├── AudioTooLong     longer than VOICE_MAX_SECONDS (the message says how long)
      ├── NoSpeech         silence: no words heard
      └── NotUnderstood    not English, or too unclear to trust the transcript
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


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


class ReaderUnavailable(CitebotError):
    """The reader model cannot be loaded; the message names the file and how to rebuild it."""


class DataNotWritable(CitebotError):
    """A folder citebot writes to (DATA_DIR) is read-only for this user: nothing is damaged,
    so the message never suggests a rebuild (which could not write either)."""

    @classmethod
    def of(cls, folder: Path, exc: BaseException) -> DataNotWritable | None:
        """This error if `exc`, a failure to open or write something in `folder`, comes from
        the folder (or a file in it) being read-only for this user; None if it is something
        else, such as damage."""
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
        denied = isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        readonly = any(
            words in str(exc).lower()
            for words in ("readonly database", "read-only file system", "permission denied")
        )
        if not (denied or readonly or not writable(folder)):
            return None
        return cls(
            f"{folder} is not writable by this user ({detail}). citebot keeps its index there"
            " (DATA_DIR) and must write to it; embedded Chroma does so even to answer a"
            " question. Give this user write access to the folder, or set DATA_DIR to a"
            " folder it may write (with a Chroma server, CHROMA_HOST, `ask`, `sources` and"
            " `serve` need no write access). Nothing is damaged: no rebuild is needed."
        )


def writable(folder: Path) -> bool:
    """Whether this user may create and change files in `folder` (or, if it does not exist
    yet, in the nearest folder above it that does)."""
    for candidate in (folder, *folder.absolute().parents):
        if candidate.exists():
            return os.access(candidate, os.W_OK | os.X_OK)
    return False


class InvalidEvalData(CitebotError):
    """An evaluation data set (BEIR or SQuAD) is missing or malformed."""


class SpeechError(CitebotError):
    """A spoken question could not be turned into text; the message says why."""


class UnreadableAudio(SpeechError):
    """The file is not audio citebot can decode, or it is damaged or incomplete."""


class AudioTooLong(SpeechError):
    """The recording is longer than the limit (`VOICE_MAX_SECONDS`)."""


class NoSpeech(SpeechError):
    """Nothing was said: silence, or noise without words."""


class NotUnderstood(SpeechError):
    """Speech in another language, or so unclear that the transcript cannot be trusted."""
