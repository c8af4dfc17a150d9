"""Spoken questions: a recording decoded (`audio`), transcribed offline by Whisper
(`whisper`), primed with the names the archive holds (`vocabulary`)."""

from retrieval.speech.audio import SAMPLE_RATE, decode
from retrieval.speech.vocabulary import Vocabulary, names_in, true_case, vocabulary
from retrieval.speech.whisper import (
    Transcriber,
    Transcript,
    WhisperTranscriber,
    as_question,
    bundled_model_path,
    judge,
)

__all__ = [
    "SAMPLE_RATE",
    "Transcriber",
    "Transcript",
    "Vocabulary",
    "WhisperTranscriber",
    "as_question",
    "bundled_model_path",
    "decode",
    "judge",
    "names_in",
    "true_case",
    "vocabulary",
]
