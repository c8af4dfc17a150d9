"""Spoken questions: decoding with its limits, the archive's vocabulary, judging what was
heard, and the real Whisper tiny.en on recordings spoken by espeak-ng."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval import Archive
from retrieval.errors import AudioTooLong, NoSpeech, NotUnderstood, UnreadableAudio
from retrieval.speech import (
    SAMPLE_RATE,
    Transcript,
    WhisperTranscriber,
    as_question,
    decode,
    judge,
    names_in,
    true_case,
    vocabulary,
)
from tests.conftest import CORPUS, VOICE_DATA

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from speech_synth import encode_opus, silence

CROCUS = (VOICE_DATA / "crocus.ogg").read_bytes()
DEMO_TEXT = next(CORPUS.iterdir()).read_text(encoding="utf-8")


def tone(seconds: float, rate: int = 48_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return encode_opus((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)


# -- decoding ----------------------------------------------------------------------------------


def test_a_voice_note_decodes_to_16_khz_mono_samples_of_its_length() -> None:
    samples = decode(CROCUS, max_seconds=60, expected_seconds=4)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert 3.0 < len(samples) / SAMPLE_RATE < 6.0
    assert 0.05 < float(np.abs(samples).max()) <= 1.0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is not audio at all",
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"OggS" + bytes(50),
    ],
)
def test_what_is_not_audio_is_unreadable(data: bytes) -> None:
    with pytest.raises(UnreadableAudio, match="could not read that as audio"):
        decode(data, max_seconds=60)


def test_a_note_cut_short_in_transit_says_so() -> None:
    half = CROCUS[: len(CROCUS) // 3]
    with pytest.raises(UnreadableAudio, match=r"arrived incomplete \(\d s of 4 s\)"):
        decode(half, max_seconds=60, expected_seconds=4)


def test_a_note_declared_too_long_is_refused_before_decoding() -> None:
    with pytest.raises(AudioTooLong, match="is 61 s long; I transcribe up to 60 s"):
        decode(b"never looked at", max_seconds=60, expected_seconds=61)


def test_a_note_longer_than_declared_is_refused_while_decoding() -> None:
    long_note = tone(75)
    with pytest.raises(AudioTooLong, match="more than 60 s long"):
        decode(long_note, max_seconds=60, expected_seconds=5)
    assert len(decode(long_note, max_seconds=80)) / SAMPLE_RATE == pytest.approx(75, abs=0.2)


def test_a_file_on_disk_decodes_too(tmp_path: Path) -> None:
    path = tmp_path / "question.ogg"
    path.write_bytes(CROCUS)
    assert len(decode(path, max_seconds=60)) == len(decode(CROCUS, max_seconds=60))


# -- the archive's vocabulary --------------------------------------------------------------------


def test_names_are_capitalised_runs_not_sentence_starts() -> None:
    text = "Russia's reaction. But on Tuesday, Sergei Naryshkin spoke in Moscow. Experts agree."
    assert names_in(text) == ["Russia", "Sergei Naryshkin", "Moscow"]
    assert names_in("The United States warned the Kremlin.") == ["United States", "Kremlin"]


def test_vocabulary_ranks_names_by_documents_and_fits_the_budget() -> None:
    texts = [
        ("a", "Crocus City Hall and Moscow."),
        ("b", "In Moscow, Crocus City Hall."),
        ("c", "We met in Moscow."),
    ]
    assert vocabulary(texts).names == ("Moscow", "Crocus City Hall")
    demo = vocabulary([("demo", DEMO_TEXT)]).names
    assert {"Crocus City Hall", "Sergei Naryshkin", "ISIS-K", "Washington Post"} <= set(demo)
    assert "Naryshkin" not in demo  # inside "Sergei Naryshkin", already there
    small = vocabulary([("demo", DEMO_TEXT)], max_chars=40).names
    assert small and len(", ".join(small)) <= 40


# -- judging what was heard ------------------------------------------------------------------------


def heard(text: str, confidence: float = 0.8, language: str = "en") -> Transcript:
    return Transcript(text, 3.0, language, 1.0, confidence, 0.1)


def test_capitals_the_archive_does_not_use_are_taken_off() -> None:
    words = vocabulary([("demo", DEMO_TEXT)]).words
    heard = "Did the Washington Post say the Attack was in Moscow? The Final toll. FIFA Rules"
    assert true_case(heard, words) == (
        "Did the Washington Post say the attack was in Moscow? The final toll. FIFA rules"
    )
    assert true_case("Sergei Naryshkin's Reply", words) == "Sergei Naryshkin's reply"
    assert true_case("Where, I'll Ask, is Moscow", words) == "Where, I'll ask, is Moscow"


def test_a_transcript_is_written_as_the_question_was_meant() -> None:
    assert as_question(" who won the men's singles at Wimbledon 2018") == (
        "Who won the men's singles at Wimbledon 2018?"
    )
    assert as_question("How long did it last?") == "How long did it last?"
    assert as_question("tell me about Crocus City Hall") == "Tell me about Crocus City Hall"
    assert as_question("Who won.") == "Who won."
    assert as_question("") == ""


def test_a_clear_english_transcript_is_trusted() -> None:
    assert judge(heard("Who warned Russia?")).text == "Who warned Russia?"


@pytest.mark.parametrize(
    ("transcript", "error", "words"),
    [
        (heard(""), NoSpeech, "heard no words"),
        (heard(" ... "), NoSpeech, "heard no words"),
        (heard("Wear hat Russland", confidence=0.2), NotUnderstood, "could not make out"),
        (
            heard("Wer hat Russland gewarnt", language="de"),
            NotUnderstood,
            r"another language \(de\)",
        ),
    ],
)
def test_untrustworthy_transcripts_get_a_reason(
    transcript: Transcript, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        judge(transcript)


# -- the real model --------------------------------------------------------------------------------


@pytest.mark.slow
def test_whisper_hears_the_archive_names_when_primed(whisper: WhisperTranscriber) -> None:
    samples = decode(CROCUS, max_seconds=60)
    primed = whisper.transcribe(samples, vocabulary([("demo", DEMO_TEXT)]).names)
    assert "Crocus City Hall" in primed.text
    assert primed.text.lower().startswith("who warned russia")
    assert primed.confidence > 0.5 and primed.language == "en"
    assert primed.seconds == pytest.approx(len(samples) / SAMPLE_RATE)


@pytest.mark.slow
def test_silence_and_german_are_not_taken_for_questions(whisper: WhisperTranscriber) -> None:
    with pytest.raises(NoSpeech):
        judge(whisper.transcribe(decode(silence(3), max_seconds=60)))
    german = decode((VOICE_DATA / "german.ogg").read_bytes(), max_seconds=60)
    with pytest.raises(NotUnderstood):
        judge(whisper.transcribe(german))


@pytest.mark.slow
def test_the_archive_transcribes_with_its_own_vocabulary(spoken_archive: Archive) -> None:
    assert "Sergei Naryshkin" in spoken_archive.vocabulary().names
    transcript = spoken_archive.transcribe(CROCUS, expected_seconds=4)
    assert "Crocus City Hall" in transcript.text
    with pytest.raises(AudioTooLong):
        spoken_archive.transcribe(tone(61))
