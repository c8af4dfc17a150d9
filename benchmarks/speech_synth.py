"""Spoken questions made offline: espeak-ng (a Debian package: `apt-get install espeak-ng`)
speaks a text into a WAV, and PyAV (installed with faster-whisper) encodes it as OGG/Opus at
48 kHz mono, the way Telegram's apps record voice notes.

Used by `benchmarks/voice.py` and by `tests/data/voice/make.py`, which made the few small
recordings the tests use (so the tests need no espeak-ng).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import av
import numpy as np

OPUS_RATE = 48_000
OPUS_BITRATE = 24_000  # Telegram's voice notes are 16-32 kbit/s Opus


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, voice: str = "en-us", words_per_minute: int = 160) -> bytes:
    """`text` spoken by espeak-ng with `voice` at `words_per_minute`, as OGG/Opus bytes."""
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        samples, rate = read_wav(wav)
    return encode_opus(samples, rate)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples of an audio file and their rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        frames = [f.to_ndarray().astype(np.float32) for f in container.decode(stream)]
    data = np.concatenate([f.reshape(f.shape[0], -1).mean(axis=0) for f in frames])
    if data.dtype != np.float32 or np.abs(data).max() > 1.5:
        data = data / 32768.0
    return data.astype(np.float32), rate


def encode_opus(samples: np.ndarray, rate: int, bitrate: int = OPUS_BITRATE) -> bytes:
    """Mono float samples at `rate` as an OGG/Opus file at 48 kHz."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=OPUS_RATE)
        stream.bit_rate = bitrate
        stream.layout = "mono"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=OPUS_RATE)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1),
            format="flt",
            layout="mono",
        )
        frame.rate = rate
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def silence(seconds: float, rate: int = OPUS_RATE) -> bytes:
    """A recording of `seconds` of silence (with a whisper of noise, as a real room has)."""
    noise = np.random.default_rng(0).normal(0, 1e-4, int(seconds * rate))
    return encode_opus(noise.astype(np.float32), rate)
