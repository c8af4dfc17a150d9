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
 ├── InvalidEvalData      an evaluation data set is missing or malformed (`citebot eval`)
 └── SpeechError          a spoken question cannot be turned into text
      ├── UnreadableAudio  not audio, damaged, or cut short in transit
      ├── AudioTooLong     longer than VOICE_MAX_SECONDS (the message says how long)
      ├── NoSpeech         silence: no words heard
      └── NotUnderstood    not English, or too unclear to trust the transcript
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


class ReaderUnavailable(CitebotError):
    """The reader model cannot be loaded; the message names the file and how to rebuild it."""


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
