"""Question latency (search + extractive answer, no LLM) and memory, at two index sizes.

    .venv/bin/python benchmarks/latency.py                     # the SQuAD dev corpus (2,067 docs)
    .venv/bin/python benchmarks/latency.py --chunks 100000     # ~100,000 chunks (slow to build)

The index is built with the product's ingest (`citebot eval`'s `EvalIndex`) and kept in
--cache (default /tmp/citebot-bench), so a second run only measures. For --chunks N the
corpus is SQuAD's paragraphs and SciFact's abstracts, then passages of 1-3 sentences cut
from both (each a document of its own) until the index holds about N chunks; building
100,000 chunks embeds for 15-40 minutes on 2 cores.

The embedder is the configured one (EMBEDDING_BACKEND and EMBEDDING_PRECISION from the
environment; ONNX int8 by default); the cache folder's name records it.

Questions (SQuAD dev, every 5th) are asked through `Archive.ask` in a fresh process that
only opens the index, so the memory figure is what a bot serving that index holds. Stage
times come from thin timing wrappers around the embedder, the store and the BM25 index.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from common import SCIFACT, SQUAD

from retrieval.archive import Archive
from retrieval.eval.data import EvalDocument, EvalSet, load_beir, load_squad
from retrieval.eval.metrics import percentile
from retrieval.eval.run import EvalIndex
from retrieval.index import ChromaStore
from retrieval.index.embedding import make_embedder
from retrieval.settings import RetrievalSettings
from retrieval.text import sentence_spans


def corpus(chunks: int | None) -> EvalSet:
    """SQuAD's paragraphs; with `chunks`, SciFact and sentence passages up to about that many."""
    squad = load_squad(SQUAD)
    if not chunks:
        return squad
    documents = list(squad.documents)
    documents += load_beir(SCIFACT, SCIFACT / "qrels" / "train.tsv").documents
    estimate = sum(max(1, round(len(d.text) / 800)) for d in documents)
    for passage in _passages(documents):
        if estimate >= chunks:
            break
        documents.append(passage)
        estimate += 1
    return EvalSet(f"squad+scifact-{chunks}", tuple(documents), ())


def _passages(documents: Sequence[EvalDocument]) -> Iterator[EvalDocument]:
    """Windows of one, two and three sentences of every document, each a document."""
    for width in (1, 2, 3):
        for document in documents:
            spans = sentence_spans(document.text)
            for i in range(0, max(len(spans) - width + 1, 0), width):
                text = document.text[spans[i][0] : spans[i + width - 1][1]]
                if len(text) >= 40:
                    yield EvalDocument(
                        f"{document.key}/s{width}-{i}", f"{document.title} ({i + 1})", text
                    )


def build(args: argparse.Namespace) -> Path:
    data = corpus(args.chunks)
    settings = RetrievalSettings(_env_file=None)  # type: ignore[call-arg]

    def progress(phase: str, done: int, total: int) -> None:
        if done % 5000 == 0 or done == total:
            print(f"  {done:,}/{total:,} documents", file=sys.stderr, flush=True)

    started = time.perf_counter()
    index = EvalIndex(data, settings, cache_dir=args.cache, progress=progress)
    print(
        f"index: {index.documents:,} documents, {index.chunks:,} chunks"
        f" ({index.ingest_report.chunks_embedded:,} embedded now,"
        f" {time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
    )
    return index.settings.data_dir.parent


class Timed:
    """Forwards every attribute to `inner`, timing the named methods into `times`."""

    def __init__(self, inner: Any, times: dict[str, list[float]], **methods: str) -> None:
        self._inner = inner
        self._times = times
        self._methods = methods

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        stage = self._methods.get(name)
        if stage is None:
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._times.setdefault(stage, []).append(time.perf_counter() - started)

        return timed

    def __len__(self) -> int:
        return len(self._inner)


def measure(root: Path, questions: int) -> dict[str, Any]:
    """Open the index at root, ask SQuAD questions, return latency and memory figures."""
    settings = RetrievalSettings(  # type: ignore[call-arg]
        _env_file=None,
        corpus_dir=root / "corpus",
        data_dir=root / "data",
        chroma_collection="citebot-eval",
    )
    opened = time.perf_counter()
    times: dict[str, list[float]] = {}
    archive = Archive(
        settings,
        embedder=Timed(make_embedder(settings), times, embed="embed question"),
        store=Timed(ChromaStore(settings), times, nearest="dense (Chroma)", get="fetch chunks"),
    )
    archive.warm_up()
    open_seconds = time.perf_counter() - opened
    asked = [q.text for q in load_squad(SQUAD, every=5).questions][:questions]
    for question in asked[:20]:  # warm caches (HNSW pages, numpy, tokenizer)
        _ = archive.ask(question).answer
    times.clear()
    totals = []
    for question in asked:
        started = time.perf_counter()
        _ = archive.ask(question).answer
        totals.append(time.perf_counter() - started)
    stages = {
        name: {
            "p50_ms": round(1000 * percentile(values, 50), 1),
            "p95_ms": round(1000 * percentile(values, 95), 1),
        }
        for name, values in times.items()
    }
    return {
        "chunks": len(archive.lexical),
        "questions": len(asked),
        "p50_ms": round(1000 * percentile(totals, 50), 1),
        "p95_ms": round(1000 * percentile(totals, 95), 1),
        "stages": stages,
        "open_seconds": round(open_seconds, 1),
        "rss_mb": round(_rss_mb()),
        "peak_rss_mb": round(_rss_mb("VmHWM:")),
        "load_average": os.getloadavg()[0],
    }


def _rss_mb(field: str = "VmRSS:") -> float:
    """This process's resident memory (or, with VmHWM, its peak) in MB. Not ru_maxrss: Linux
    carries that over from the parent across fork and exec."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, help="grow the corpus to about this many chunks")
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/citebot-bench"))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.questions)))
        return
    root = build(args)
    child = subprocess.run(
        [sys.executable, __file__, "--measure", str(root), "--questions", str(args.questions)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"| measure ({result['chunks']:,} chunks, {result['questions']} questions) | p50 | p95 |")
    print("|---|---|---|")
    print(f"| question (search + answer) | {result['p50_ms']} ms | {result['p95_ms']} ms |")
    for name, figures in result["stages"].items():
        print(f"| · {name} | {figures['p50_ms']} ms | {figures['p95_ms']} ms |")
    print(f"| RSS serving / peak | {result['rss_mb']} MB | {result['peak_rss_mb']} MB |")
    print(
        f"| opening the index | {result['open_seconds']} s"
        f" | load average {result['load_average']:.1f} |"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
