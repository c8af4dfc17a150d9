"""Makes the recordings in this folder (needs espeak-ng: `apt-get install espeak-ng`):

    .venv/bin/python tests/data/voice/make.py

Each is a question spoken by espeak-ng, encoded as OGG/Opus as Telegram's voice notes are.
They are kept in the repository (a few KB each) so that the tests need no espeak-ng; recordings
that need no speech (silence, a long note) are made by the tests themselves.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "benchmarks"))

from speech_synth import speak  # noqa: E402

RECORDINGS = {
    # name: (text, espeak-ng voice, words per minute)
    "crocus.ogg": ("Who warned Russia that Crocus City Hall was a potential target?", "en-us", 150),
    "german.ogg": (
        "Wer hat Russland gewarnt, dass die Konzerthalle ein mögliches Ziel eines Angriffs war?",
        "de",
        150,
    ),
}


def main() -> None:
    for name, (text, voice, wpm) in RECORDINGS.items():
        data = speak(text, voice, wpm)
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data):,} bytes ({voice}, {wpm} wpm): {text}")


if __name__ == "__main__":
    main()
