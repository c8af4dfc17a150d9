"""The reader on each runtime, side by side: quality on held-out articles and time per question.

    .venv/bin/python benchmarks/reader_speed.py            # torch fp32, ONNX fp32, ONNX int8
    .venv/bin/python benchmarks/reader_speed.py --pairs 2000 --questions 100

Quality: AUC of P(answers) and the share of positives whose highlighted span (whole words) is
exactly the crowd's answer (SQuAD normalisation), on pairs made by `training/reader_data.py`
from the 12 SQuAD-train articles held out of training. Speed: one question's candidates read
in one batch, as the answer path does (20 sentences of SQuAD prose behind their title), p50
and p95 over `--questions` batches.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

sys.path.insert(0, str(ROOT / "training"))

import numpy as np
from reader_data import Mix, article_pairs, load_articles, split_articles
from train_reader import auc

from retrieval.answer.reader import Reader
from retrieval.eval.metrics import squad_normal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--batch", type=int, default=20, help="sentences per question")
    parser.add_argument("--runtimes", default="torch-fp32,onnx-fp32,onnx-int8")
    args = parser.parse_args()

    _, held_out = split_articles(load_articles(), 12, 13)
    pairs = [p for a in held_out for p in article_pairs(a, random.Random(f"13-{a.title}"), Mix())]
    random.Random(14).shuffle(pairs)
    pairs = pairs[: args.pairs]
    labels = np.array([p.label for p in pairs])
    # Batches as the answer path makes them: one question, many sentences.
    sentences = [(p.title, p.sentence) for p in pairs]
    batches = [
        (pairs[i].question, sentences[i : i + args.batch])
        for i in range(0, len(pairs) - args.batch + 1, args.batch)
    ][: args.questions]
    cache = Path(tempfile.mkdtemp(prefix="citebot-reader-onnx-"))
    print(
        f"{len(pairs):,} held-out pairs ({labels.sum():,} positive); "
        f"{len(batches)} batches of {args.batch}"
    )
    print("| runtime | AUC | span exact | p50 ms / question | p95 ms |")
    print("|---|---|---|---|---|")
    for runtime in args.runtimes.split(","):
        backend, precision = runtime.split("-")
        reader = Reader(backend=backend, precision=precision, cache_dir=cache)  # type: ignore[arg-type]
        reader.read("warm up", [("", "Warm up.")])
        probabilities, exact, positives = [], 0, 0
        for i in range(0, len(pairs), 64):
            chunk = pairs[i : i + 64]
            readings = _read_grouped(reader, chunk)
            for pair, reading in zip(chunk, readings, strict=True):
                probabilities.append(reading.probability)
                if pair.label == 1:
                    positives += 1
                    if reading.span:
                        said = pair.sentence[reading.span[0] : reading.span[1]]
                        gold = pair.sentence[pair.start : pair.end]
                        exact += squad_normal(said) == squad_normal(gold)
        times = []
        for question, batch in batches:
            started = time.perf_counter()
            reader.read(question, batch)
            times.append(1000 * (time.perf_counter() - started))
        times.sort()
        print(
            f"| {runtime} | {auc(np.array(probabilities), labels):.4f} | {exact / positives:.4f}"
            f" | {statistics.median(times):.1f} | {times[int(0.95 * (len(times) - 1))]:.1f} |",
            flush=True,
        )


def _read_grouped(reader: Reader, pairs):  # type: ignore[no-untyped-def]
    """Readings for pairs of different questions: one batch per question, in order."""
    out = []
    for pair in pairs:
        out += reader.read(pair.question, [(pair.title, pair.sentence)])
    return out


if __name__ == "__main__":
    main()
