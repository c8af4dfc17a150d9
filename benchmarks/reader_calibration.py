"""Calibrate the reader's refusal threshold and measure which hand-written checks still add.

    .venv/bin/python benchmarks/reader_calibration.py                # every check set, curves
    .venv/bin/python benchmarks/reader_calibration.py --configs dates --thresholds 0.5

Every question of these sets goes through the product's own answer path (`Archive.ask`),
once per configuration (which checks a sentence must pass besides the reader, and how close
to the best one a second sentence must be); the reader's outputs are cached, so a
configuration costs only the search. The threshold is applied afterwards, as `citebot eval
squad2` does: a question is refused at t when nothing passes the checks or its confidence
(the best reader probability among sentences that pass) is below t.

Tuning data (choose the threshold and the checks here): SQuAD 2.0 even half, SQuAD-dev every
5th question even half, news dev "tune" split. Reported (never tuned on): the odd halves,
the news dev "heldout" split and tests/data/news_check.json.

Figures per set and threshold: SQuAD 2.0: unanswerable refused, answerable answered, gold
answer in the text of answered ones, highlighted span = a gold answer (SQuAD normalisation)
among answered ones. SQuAD-dev: gold answer in the text (refusals count as misses). News:
gold answer in the text with every document indexed, and refused with only distractors.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from common import ROOT, SQUAD, SQUAD2
from news_dev import DATA as NEWS_DEV
from news_dev import load as load_news
from news_dev import matches, write_corpus

from retrieval import Archive, RetrievalSettings
from retrieval.answer.evidence import Weighing
from retrieval.answer.reader import Reader, Reading
from retrieval.eval.data import load_squad
from retrieval.eval.metrics import highlight_exact
from retrieval.eval.run import EvalIndex, answer_contains, select
from retrieval.index.embedding import make_embedder
from retrieval.onnx import fingerprint

NEWS_CHECK = ROOT / "tests" / "data" / "news_check.json"
CACHE = Path(tempfile.gettempdir()) / "citebot-calibration"


class CachingReader(Reader):
    """The shipped reader, remembering every reading (and saving them between runs)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        # One file of readings per weights file (a retrained reader reads afresh).
        self.path = folder / f"readings-{fingerprint(self.weights)}.pickle"
        self.memo: dict[tuple[str, str, str], Reading] = {}
        if self.path.exists():
            self.memo = pickle.loads(self.path.read_bytes())

    def read(self, question: str, sentences: Sequence[tuple[str, str]]) -> list[Reading]:
        todo = [s for s in sentences if (question, *s) not in self.memo]
        if todo:
            for s, reading in zip(todo, super().read(question, todo), strict=True):
                self.memo[(question, *s)] = reading
        return [self.memo[(question, *s)] for s in sentences]

    def save(self) -> None:
        self.path.write_bytes(pickle.dumps(self.memo))


@dataclass(frozen=True)
class Row:
    data: str  # squad2, squad, news-dev, news-check
    half: str  # tune or report
    setting: str  # full or distractors (news); full otherwise
    answerable: bool
    refused: bool  # nothing passes the checks
    confidence: float
    in_text: bool
    exact: bool  # the first highlighted span is a gold answer


def ask_all(archive: Archive, questions, data: str, half_of, setting="full") -> list[Row]:  # type: ignore[no-untyped-def]
    rows = []
    for done, q in enumerate(questions, start=1):
        if done % 500 == 0:
            print(f"  {data}/{setting}: {done:,}/{len(questions):,}", file=sys.stderr, flush=True)
        answer = archive.ask(q.text).answer
        golds = q.answers
        if data.startswith("news"):
            in_text = not answer.refused and matches(answer.text, golds)
        else:
            in_text = answer_contains(answer, golds)[0]
        rows.append(
            Row(
                data,
                half_of(q),
                setting,
                q.answerable,
                answer.refused,
                answer.confidence,
                in_text,
                not answer.refused and highlight_exact(answer.text, answer.highlights, golds),
            )
        )
    return rows


def figures(rows: Sequence[Row], t: float) -> dict[str, float | None]:
    """The figures of one set and half at threshold t."""

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 3) if whole else None

    def refused(r: Row) -> bool:
        return r.refused or r.confidence < t

    data = rows[0].data if rows else ""
    if data == "squad2":
        can = [r for r in rows if r.answerable]
        cannot = [r for r in rows if not r.answerable]
        answered = [r for r in can if not refused(r)]
        return {
            "refused_unanswerable": share(sum(refused(r) for r in cannot), len(cannot)),
            "answered_answerable": share(len(answered), len(can)),
            "in_text": share(sum(r.in_text for r in answered), len(answered)),
            "highlight_exact": share(sum(r.exact for r in answered), len(answered)),
        }
    if data == "squad":
        return {
            "in_text": share(sum(r.in_text and not refused(r) for r in rows), len(rows)),
            "refused": share(sum(refused(r) for r in rows), len(rows)),
        }
    full = [r for r in rows if r.setting == "full" and r.answerable]
    only = [r for r in rows if r.setting == "distractors"]
    topic = [r for r in rows if r.setting == "full" and not r.answerable]
    return {
        "in_text": share(sum(r.in_text and not refused(r) for r in full), len(full)),
        "distractors_refused": share(sum(refused(r) for r in only), len(only)),
        "topic_refused": share(sum(refused(r) for r in topic), len(topic)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs",
        default="none,dates,dates+forecasts",
        help="none: the reader alone; dates, forecasts: and these rules (answer/periods.py)",
    )
    parser.add_argument("--keep", default="0", help="keep ratios to try (comma-separated)")
    parser.add_argument("--max-read", default="0", help="sentences read at most (0: all)")
    parser.add_argument(
        "--title-words", default="6", help="longest titles shown to the reader, in words"
    )
    parser.add_argument("--thresholds", default="0.3,0.4,0.5,0.6,0.7,0.8,0.85,0.9,0.95")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--sets", default="squad2,squad,news-dev,news-check")
    parser.add_argument("--json", type=Path, help="write every row here")
    parser.add_argument(
        "--tune-only",
        action="store_true",
        help="ask only the SQuAD tuning halves (report them with `citebot eval … --subset odd`)",
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    reader = CachingReader(args.cache)
    base = RetrievalSettings(_env_file=None, chroma_host="", llm_provider="none")  # type: ignore[call-arg]
    embedder = make_embedder(base)
    sets = args.sets.split(",")

    # The archives, built once (cached by the evaluation's own index cache).
    archives: list[tuple[str, str, EvalIndex | Path, list, object]] = []
    if "squad2" in sets:
        data = load_squad(SQUAD2)
        index = EvalIndex(data, base, embedder, args.cache / "indexes")
        even = {q.id for q in select(data.questions, "even")}
        asked = [q for q in data.questions if q.id in even or not args.tune_only]
        archives.append(("squad2", "full", index, asked, even))
    if "squad" in sets:
        data = load_squad(SQUAD, every=5)
        index = EvalIndex(data, base, embedder, args.cache / "indexes")
        even = {q.id for q in select(data.questions, "even")}
        asked = [q for q in data.questions if q.id in even or not args.tune_only]
        archives.append(("squad", "full", index, asked, even))
    for name, path in (("news-dev", NEWS_DEV), ("news-check", NEWS_CHECK)):
        if name not in sets:
            continue
        documents, questions = load_news(path)
        folder = args.cache / name
        gold = {g for q in questions for g in q.gold}
        for setting, docs in (
            ("full", documents),
            ("distractors", [d for d in documents if d["id"] not in gold]),
        ):
            corpus = folder / setting / "corpus"
            if not corpus.exists():
                write_corpus(docs, corpus)
            asked = [q for q in questions if setting == "full" or q.answerable]
            tune = {q.id for q in asked if q.split == "tune"}
            archives.append((name, setting, folder / setting, asked, tune))

    configs = [c for c in args.configs.split(",") if c]
    thresholds = [float(t) for t in args.thresholds.split(",")]
    results: dict[str, list[Row]] = {}
    for config in configs:
        for keep, max_read, words in (
            (float(k), int(m), int(w))
            for k in args.keep.split(",")
            for m in args.max_read.split(",")
            for w in args.title_words.split(",")
        ):
            weighing = Weighing(
                refusal_threshold=0.0,
                dates="dates" in config,
                forecasts="forecasts" in config,
                keep_ratio=keep,
                max_read=max_read,
                title_words=words,
            )
            name = f"{config} keep={keep:g} max_read={max_read} title_words={words}"
            started = time.perf_counter()
            rows: list[Row] = []
            for data_name, setting, where, questions, tune in archives:
                if isinstance(where, EvalIndex):
                    settings = where.settings
                else:
                    settings = base.model_copy(
                        update={"corpus_dir": where / "corpus", "data_dir": where / "data"}
                    )
                archive = Archive(settings, embedder=embedder, reader=reader, weighing=weighing)
                if not isinstance(where, EvalIndex):
                    archive.ingest()
                rows += ask_all(
                    archive,
                    questions,
                    data_name,
                    lambda q, tune=tune: "tune" if q.id in tune else "report",
                    setting,
                )
                reader.save()
            results[name] = rows
            print(f"\n## {name} ({time.perf_counter() - started:.0f} s)", flush=True)
            for data_name in dict.fromkeys(r.data for r in rows):
                for half in ("tune", "report"):
                    part = [r for r in rows if r.data == data_name and r.half == half]
                    if not part:
                        continue
                    print(f"{data_name:10s} {half:6s}", end="")
                    for t in thresholds:
                        f = figures(part, t)
                        print(f" | t={t:g} " + " ".join(f"{v}" for v in f.values()), end="")
                    print(f"   [{', '.join(figures(part, 0))}]")
    if args.json:
        args.json.write_text(
            json.dumps({k: [r.__dict__ for r in v] for k, v in results.items()}), encoding="utf-8"
        )


if __name__ == "__main__":
    sys.exit(main())
