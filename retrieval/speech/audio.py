"""Decoding a recording (a Telegram voice note is OGG/Opus; audio files may be MP3, M4A, WAV…)
into the 16 kHz mono samples Whisper reads, with its limits checked while decoding.

PyAV (FFmpeg's libraries, bundled in its wheel) decodes; nothing is written to disk. Decoding
stops as soon as the recording is longer than allowed, so a file that claims 5 s and holds an
hour costs no more than the limit. A file that decodes to clearly less than its sender said
(`expected_seconds`) arrived incomplete.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from retrieval.errors import AudioTooLong, UnreadableAudio

SAMPLE_RATE = 16_000  # what Whisper reads
# A recording may be this much shorter than declared before it counts as cut short (senders
# round their durations; codecs pad and trim a few hundred milliseconds).
TRUNCATION_SLACK = 1.5
UNREADABLE = (
    "I could not read that as audio. Please send a voice note (or an audio file: OGG, MP3,"
    " M4A, WAV), or type the question."
)


def decode(
    data: bytes | bytearray | Path,
    max_seconds: float,
    expected_seconds: float | None = None,
) -> np.ndarray:
    """The recording as float32 samples at 16 kHz, mono, in [-1, 1].

    UnreadableAudio if it is not audio, damaged, or shorter than `expected_seconds` by more
    than the slack (cut short in transit); AudioTooLong once it runs past `max_seconds`.
    """
    if expected_seconds is not None and expected_seconds > max_seconds:
        raise too_long(expected_seconds, max_seconds)
    source = data if isinstance(data, Path) else io.BytesIO(bytes(data))
    limit = int(max_seconds * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(source, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise UnreadableAudio(UNREADABLE)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in _frames(container):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    chunks.append(samples)
                    total += samples.size
                if total > limit:
                    raise too_long(total / SAMPLE_RATE, max_seconds, at_least=True)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
                total += chunks[-1].size
    except (av.error.FFmpegError, ValueError, EOFError, IndexError) as exc:
        raise UnreadableAudio(UNREADABLE) from exc
    if total > limit:
        raise too_long(total / SAMPLE_RATE, max_seconds)
    if total == 0:
        raise UnreadableAudio(UNREADABLE)
    seconds = total / SAMPLE_RATE
    if expected_seconds is not None and seconds < expected_seconds - TRUNCATION_SLACK:
        raise UnreadableAudio(
            f"That recording arrived incomplete ({seconds:.0f} s of {expected_seconds:.0f} s)."
            " Please send it again."
        )
    return np.concatenate(chunks).astype(np.float32) / 32768.0


def _frames(container: av.container.InputContainer) -> Iterator[av.AudioFrame]:
    """The audio frames of the first audio stream; a damaged packet in the middle is
    skipped (as players do), a damaged file fails on its first packet."""
    stream = container.streams.audio[0]
    decoded = 0
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            if decoded == 0:
                raise
            continue
        for frame in frames:
            decoded += 1
            yield frame


def too_long(seconds: float, max_seconds: float, at_least: bool = False) -> AudioTooLong:
    more = "more than " if at_least else ""
    return AudioTooLong(
        f"That recording is {more}{seconds:.0f} s long; I transcribe up to {max_seconds:.0f} s."
        " Please ask in a shorter voice note, or type the question."
    )
