"""Voice questions, measured: what Whisper tiny.en hears, whether a spoken question gets the
typed question's answer, how long transcription takes, and whether a burst of voice notes
slows text questions down.

    .venv/bin/python benchmarks/voice.py                    # everything (about 15 min on 2 cores)
    .venv/bin/python benchmarks/voice.py --questions 8 --skip-burst   # a quick look

Needs espeak-ng (`apt-get install espeak-ng`), which speaks the questions; PyAV encodes them
as OGG/Opus at 24 kbit/s, as Telegram's apps record voice notes (benchmarks/speech_synth.py).

The archive is the news dev set (tests/data/news_dev.json: 212 dated snippets about sport,
politics, business, with same-topic distractors), ingested with the product's own code in a
temporary folder. Its first `--questions` questions (default 32, answerable and not) are
spoken by two espeak-ng voices (en-us, en-gb) at two speeds (150 and 185 words a minute).

1. Word error rate of the transcripts against the typed questions (lower case, punctuation
   dropped, numbers as digits), without priming and primed with the archive's vocabulary
   (`Archive.vocabulary()`) as faster-whisper's `hotwords` or as its `initial_prompt`; and the
   share of the questions' names (capitalised words) heard exactly.
2. The same answer: `Archive.ask(transcript)` against `Archive.ask(typed question)` (no LLM):
   the same refusal decision and the same answer text; and the same first source.
3. Not English: the mean token probability (`Transcript.confidence`) of the English notes
   against notes spoken in German, French and Spanish, and how many of each the threshold
   (`MIN_CONFIDENCE`) lets through.
4. Transcription time (decoding + Whisper, one thread as the bot runs it) of 5, 10, 15 and
   60 s notes, five of each.
5. Text questions during a burst: the real bot (`build_application`) against the fake Bot
   API server over HTTP on 127.0.0.1; text questions asked one after another by other users,
   with no voice notes, then while 20 voice notes arrive at once (with the default line of
   VOICE_QUEUE=4, the rest told "busy", and with a line for all 20). Round trip per question:
   update queued → answer sent.

`--json` prints every figure as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from common import ROOT

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from news_dev import write_corpus
from speech_synth import have_espeak, speak

from bot.settings import Settings
from retrieval import Archive, SpeechError
from retrieval.eval.metrics import percentile
from retrieval.speech import WhisperTranscriber, decode, true_case
from retrieval.speech.whisper import MIN_CONFIDENCE

DATA = ROOT / "tests" / "data" / "news_dev.json"
VOICES = ("en-us", "en-gb")
SPEEDS = (150, 185)
FOREIGN = (
    ("de", "Wer hat im Jahr zweitausendachtzehn das Damenfinale in Wimbledon gewonnen?"),
    ("de", "Wie hoch war der Umsatz des Unternehmens im ersten Quartal?"),
    ("fr", "Qui a gagné la finale de la coupe du monde de football en deux mille dix-huit ?"),
    ("fr", "Quel était le chiffre d'affaires de l'entreprise au premier trimestre ?"),
    ("es", "¿Quién ganó el campeonato de tenis femenino en Wimbledon el año pasado?"),
    ("es", "¿Cuántas personas murieron en el ataque contra la sala de conciertos?"),
)
NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}


# -- figures -------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Lower case, punctuation dropped, small numbers as digits, "%" as "percent"."""
    text = text.lower().replace("%", " percent").replace("’", "'")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)  # 1,000 → 1000
    tokens = re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text)
    return [NUMBER_WORDS.get(t, t) for t in tokens]


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def wer(pairs: Iterable[tuple[str, str]]) -> float:
    """Word error rate over (reference, hypothesis) pairs: edits / reference words."""
    errors = total = 0
    for reference, hypothesis in pairs:
        ref = words(reference)
        errors += edit_distance(ref, words(hypothesis))
        total += len(ref)
    return errors / max(1, total)


def names_of(question: str) -> list[str]:
    """The capitalised words of a question after its first word (its names)."""
    return [w for w in re.findall(r"[A-Z][\w'’-]+", question.split(" ", 1)[-1])]


def name_recall(pairs: Iterable[tuple[str, str]]) -> float:
    heard = total = 0
    for reference, hypothesis in pairs:
        for name in names_of(reference):
            total += 1
            heard += re.search(rf"(?<!\w){re.escape(name)}(?!\w)", hypothesis) is not None
    return heard / max(1, total)


def ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(1000 * percentile(list(values), 50), 1),
        "p95": round(1000 * percentile(list(values), 95), 1),
        "max": round(1000 * max(values), 1),
        "n": len(values),
    }


# -- the archive -----------------------------------------------------------------------------------


def open_archive(folder: Path, transcriber: WhisperTranscriber) -> tuple[Archive, Settings]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    corpus = folder / "corpus"
    write_corpus(data["documents"], corpus)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        corpus_dir=corpus,
        data_dir=folder / "data",
        chroma_host="",
        llm_provider="none",
        rate_limit_per_minute=0,
        replies_per_user_per_minute=0,
        replies_per_group_per_minute=0,
    )
    archive = Archive(settings, transcriber=transcriber)
    archive.ingest()
    return archive, settings


def same_answer(archive: Archive, typed: str, heard: str) -> tuple[bool, bool]:
    """(same refusal and answer text, same first source) of the two questions."""
    a = archive.ask(typed, use_llm=False).answer
    try:
        b = archive.ask(heard, use_llm=False).answer
    except Exception:  # an unfit transcript (empty) is a different answer
        return False, False
    first = (a.citations[0].chunk_id if a.citations else None) == (
        b.citations[0].chunk_id if b.citations else None
    )
    return a.refused == b.refused and a.text == b.text, first


# -- 1-3: what is heard ------------------------------------------------------------------------


def hearing(
    archive: Archive, whisper: WhisperTranscriber, questions: Sequence[str]
) -> dict[str, Any]:
    vocabulary = archive.vocabulary()
    notes = [
        (q, voice, wpm, decode(speak(q, voice, wpm), 60))
        for q in questions
        for voice in VOICES
        for wpm in SPEEDS
    ]
    print(f"{len(notes)} notes ({len(questions)} questions × 2 voices × 2 speeds)", file=sys.stderr)
    modes: dict[str, Any] = {}
    heard_by_mode: dict[str, list[tuple[str, str, float]]] = {}
    for mode in ("none", "hotwords", "prompt"):
        whisper.priming = mode  # type: ignore[assignment]
        heard: list[tuple[str, str, float]] = []
        times: list[float] = []
        for q, _voice, _wpm, samples in notes:
            names = vocabulary.names if mode != "none" else ()
            t = whisper.transcribe(samples, names)
            heard.append((q, true_case(t.text, vocabulary.words), t.confidence))
            times.append(t.elapsed)
        heard_by_mode[mode] = heard
        pairs = [(q, h) for q, h, _ in heard]
        per = {}
        for voice in VOICES:
            for wpm in SPEEDS:
                chosen = [
                    (q, h)
                    for (q, h, _), (_, v, w, _) in zip(heard, notes, strict=True)
                    if v == voice and w == wpm
                ]
                per[f"{voice} {wpm} wpm"] = round(wer(chosen), 3)
        modes[mode] = {
            "wer": round(wer(pairs), 3),
            "wer_by_voice": per,
            "name_recall": round(name_recall(pairs), 3),
            "transcribe_ms": ms(times),
        }
        print(f"priming {mode}: {modes[mode]}", file=sys.stderr)
    whisper.priming = "hotwords"
    # 2. the same answer, with the product's default (hotwords)
    same = first = refused_notes = 0
    failures = []
    for q, h, confidence in heard_by_mode["hotwords"]:
        if confidence < MIN_CONFIDENCE:
            refused_notes += 1
        text_same, first_same = same_answer(archive, q, h)
        same += text_same
        first += first_same
        if not text_same:
            failures.append({"typed": q, "heard": h})
    # 3. not English
    english = [c for _, _, c in heard_by_mode["hotwords"]]
    foreign = []
    for language, sentence in FOREIGN:
        for wpm in SPEEDS:
            t = whisper.transcribe(decode(speak(sentence, language, wpm), 60), vocabulary.names)
            foreign.append(t.confidence)
    english_kept = sum(c >= MIN_CONFIDENCE for c in english) / len(english)
    foreign_refused = sum(c < MIN_CONFIDENCE for c in foreign) / len(foreign)
    return {
        "notes": len(notes),
        "questions": len(questions),
        "vocabulary_names": len(vocabulary.names),
        "priming": modes,
        "same_answer": round(same / len(notes), 3),
        "same_first_source": round(first / len(notes), 3),
        "english_notes_refused_as_unclear": refused_notes,
        "different_answers": failures[:10],
        "confidence": {
            "threshold": MIN_CONFIDENCE,
            "english_min": round(min(english), 3),
            "english_p5": round(percentile(english, 5), 3),
            "foreign_max": round(max(foreign), 3),
            "foreign_median": round(statistics.median(foreign), 3),
            "english_kept": round(english_kept, 3),
            "foreign_refused": round(foreign_refused, 3),
        },
    }


# -- 4: transcription time -------------------------------------------------------------------------


def note_of(seconds: float, text: str) -> bytes:
    """Speech of about `seconds` (espeak-ng at 160 wpm), cut to length."""
    from speech_synth import encode_opus

    spoken = text
    while True:
        samples = decode(speak(spoken, "en-us", 160), 600)
        if len(samples) >= seconds * 16_000:
            return encode_opus(samples[: int(seconds * 16_000)], 16_000)
        spoken += " " + text


def timing(archive: Archive) -> dict[str, Any]:
    """Notes of news prose (the archive's own snippets, a different stretch for each length:
    repeated text would make Whisper loop and fall back to its slower retries)."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    prose = " ".join(d["text"] for d in data["documents"]).split()
    result = {}
    for n, seconds in enumerate((5, 10, 15, 60)):
        note = note_of(seconds, " ".join(prose[n * 250 : n * 250 + 200]))
        times = []
        for _ in range(5):
            started = time.perf_counter()
            with contextlib.suppress(SpeechError):  # a long note of filler may be "unclear"
                archive.transcribe(note)
            times.append(time.perf_counter() - started)
        result[f"{seconds}s"] = ms(times)
        print(f"{seconds} s note: {result[f'{seconds}s']}", file=sys.stderr)
    return result


# -- 5: text questions during a burst of voice notes ----------------------------------------


async def burst(archive: Archive, settings: Settings, questions: Sequence[str]) -> dict[str, Any]:
    from bot.app import build_application
    from bot.serving import Polling, running
    from tests.fakes.botapi_server import BotApiServer

    notes = [speak(q, "en-us", 160) for q in questions[:20]]
    while len(notes) < 20:
        notes.append(notes[len(notes) % len(questions)])
    texts = list(questions)
    result: dict[str, Any] = {}
    for label, queue, with_voice in (
        ("no voice notes", 4, False),
        ("20 voice notes, VOICE_QUEUE=4", 4, True),
        ("20 voice notes, VOICE_QUEUE=20", 20, True),
    ):
        async with BotApiServer() as api:
            bot_settings = settings.model_copy(
                update={
                    "telegram_bot_token": api.token,
                    "telegram_api_base_url": api.base_url,
                    "voice_queue": queue,
                }
            )
            application = build_application(bot_settings, archive)
            async with running(application, Polling(timeout=2)):
                # warm up: one text question
                api.push_message(texts[0], chat_id=49_999)
                await api.wait_for("sendMessage", chat_id=49_999, timeout=120)
                voice_chats = []
                if with_voice:
                    for i, note in enumerate(notes):
                        chat = 60_000 + i
                        api.add_file(f"v{i}", "voice.ogg", note)
                        api.push_voice(f"v{i}", duration=5, chat_id=chat)
                        voice_chats.append(chat)
                latencies = []
                i = 0
                started = time.perf_counter()
                while True:
                    chat = 50_000 + i
                    began = time.perf_counter()
                    api.push_message(texts[i % len(texts)], chat_id=chat)
                    await api.wait_for("sendMessage", chat_id=chat, timeout=300)
                    latencies.append(time.perf_counter() - began)
                    i += 1
                    voice_done = all(api.calls_to("sendMessage", chat_id=c) for c in voice_chats)
                    if i >= 40 and (not with_voice or voice_done):
                        break
                    if with_voice and voice_done and i >= 10:
                        break
                elapsed = time.perf_counter() - started
                busy = sum(
                    "busy transcribing" in str(api.calls_to("sendMessage", chat_id=c)[0].params)
                    for c in voice_chats
                )
        result[label] = {
            "text": ms(latencies),
            "seconds": round(elapsed, 1),
            "voice_busy_replies": busy,
        }
        print(f"{label}: {result[label]}", file=sys.stderr)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=32, help="questions to speak (32)")
    parser.add_argument("--skip-burst", action="store_true", help="no bot burst measurement")
    parser.add_argument("--json", action="store_true", help="JSON on the last line")
    args = parser.parse_args(argv)
    if not have_espeak():
        print("error: espeak-ng is needed: apt-get install espeak-ng", file=sys.stderr)
        return 2
    data = json.loads(DATA.read_text(encoding="utf-8"))
    questions = [q["question"] for q in data["questions"]][: args.questions]
    started = time.perf_counter()
    whisper = WhisperTranscriber()
    load = time.perf_counter() - started
    report: dict[str, Any] = {"model": whisper.name, "model_load_s": round(load, 2)}
    with tempfile.TemporaryDirectory() as folder:
        archive, settings = open_archive(Path(folder), whisper)
        report["hearing"] = hearing(archive, whisper, questions)
        report["transcription"] = timing(archive)
        if not args.skip_burst:
            report["burst"] = asyncio.run(burst(archive, settings, questions))
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
