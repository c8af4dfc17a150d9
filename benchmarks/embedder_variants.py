"""The embedder's variants side by side: torch fp32 (sentence-transformers) against the ONNX
export at each graph optimisation level, fp32 and int8 (dynamic quantisation of the MatMul
weights per output channel, as shipped, and per tensor), and fp32 after ONNX Runtime's offline
BERT fusions, on the same chunks in one process, rounds alternated:

    .venv/bin/python benchmarks/embedder_variants.py [--docs 600] [--rounds 3]

Throughput is chunks/s on the chunks of the first --docs SQuAD-dev paragraphs (batches of 64,
sorted by length, as the embedders do); latency is one question at a time (p50 over SQuAD-dev
questions); agreement is the cosine of each chunk's vector with torch's (mean / min). Which
variant keeps retrieval quality is measured by `citebot eval` (see the README).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import SQUAD
from ingest_throughput import write_corpus

from retrieval import onnx
from retrieval.eval.data import load_squad
from retrieval.index.embedding import OnnxEmbedder, SentenceTransformerEmbedder
from retrieval.ingest.chunking import chunk_document
from retrieval.ingest.loaders import load

Embed = Callable[[list[str]], np.ndarray]


def onnx_variant(cache: Path, precision: onnx.Precision, level: onnx.Optimization) -> Embed:
    embedder = OnnxEmbedder(precision=precision, cache_dir=cache, optimization=level)
    embedder.embed(["warm up"])
    return lambda texts: embedder.embed(texts)


def file_variant(cache: Path, make: Callable[[Path, Path], None], name: str) -> Embed:
    """The fp32 export turned into another file by `make(fp32, target)`, run like the rest."""
    embedder = OnnxEmbedder(precision="fp32", cache_dir=cache)
    exported, _ = embedder._load()
    target = cache / f"{name}.onnx"
    if not target.exists():
        make(exported.path, target)
    embedder._loaded = (exported, onnx.open_session(target))
    embedder.embed(["warm up"])
    return lambda texts: embedder.embed(texts)


def fused(source: Path, target: Path) -> None:
    """ONNX Runtime's offline BERT fusions (Attention, SkipLayerNorm, BiasGelu)."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimize_model(str(source), "bert", num_heads=12, hidden_size=384).save_model_to_file(
        str(target)
    )


def per_tensor(source: Path, target: Path) -> None:
    """int8 with one scale per weight matrix (ONNX Runtime's default) instead of per channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(source, target, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--only", help="comma-separated variant names to run (torch always runs)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        files = write_corpus(corpus, args.docs)
        texts = [c.indexed_text() for f in files for c in chunk_document(load(f), 1000)]
        questions = [q.text for q in load_squad(SQUAD, every=5).questions][: args.questions]
        cache = Path(tmp) / "onnx"
        torch_embedder = SentenceTransformerEmbedder()
        variants: dict[str, Embed] = {"torch fp32": torch_embedder.embed}
        builders: dict[str, Callable[[], Embed]] = {
            f"onnx {p} {level}": (lambda p=p, level=level: onnx_variant(cache, p, level))
            for p in ("fp32", "int8")
            for level in ("disable", "basic", "extended", "all")
        }
        builders["onnx fp32 fused all"] = lambda: file_variant(cache, fused, "fused")
        builders["onnx int8 per-tensor all"] = lambda: file_variant(cache, per_tensor, "pt")
        wanted = set(args.only.split(",")) if args.only else None
        for name, build in builders.items():
            if wanted is None or name in wanted:
                variants[name] = build()
        for embed in variants.values():
            embed(texts[:64])  # warm-up

        reference = torch_embedder.embed(texts)
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        latency: dict[str, list[float]] = {name: [] for name in variants}
        agreement: dict[str, np.ndarray] = {}
        for _ in range(args.rounds):
            for name, embed in variants.items():
                started = time.perf_counter()
                vectors = embed(texts)
                seconds[name].append(time.perf_counter() - started)
                agreement[name] = (vectors * reference).sum(axis=1)
                for question in questions[: max(1, len(questions) // args.rounds)]:
                    started = time.perf_counter()
                    embed([question])
                    latency[name].append(time.perf_counter() - started)

    base = statistics.median(seconds["torch fp32"])
    print(f"{len(texts)} chunks, {args.rounds} rounds alternated, {len(questions)} questions")
    print("| variant | chunks/s | × torch | question p50 | cosine with torch mean / min |")
    print("|---|---|---|---|---|")
    for name in variants:
        median = statistics.median(seconds[name])
        cos = agreement[name]
        print(
            f"| {name} | {len(texts) / median:.1f} | {base / median:.2f} |"
            f" {1000 * statistics.median(latency[name]):.1f} ms |"
            f" {cos.mean():.5f} / {cos.min():.5f} |"
        )


if __name__ == "__main__":
    main()
