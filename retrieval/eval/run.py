"""Measure retrieval and answers with the product's own code: the evaluation corpus is
written as files, ingested by `Archive.ingest`, searched by `Archive.search_stages` and
answered by the archive's composer. Nothing here ranks or answers on its own.

- `evaluate_beir`: nDCG@10, recall@10/@100 and MRR@10 per retriever stage (dense alone,
  BM25 alone, fused, final), ranking documents by their best chunk.
- `evaluate_squad`: gold-paragraph recall@1/@5/@10 and MRR@10, how often a gold answer is
  in the answer text and in the cited passages, and question latency.
- `evaluate_refusal`: SQuAD questions against an index that holds only half of the articles;
  the refusal rate on the other half's questions and the answer rate on the indexed half's,
  over a range of thresholds.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.archive import Archive
from retrieval.eval.data import EvalDocument, EvalQuestion, EvalSet
from retrieval.eval.metrics import highlight_exact, mrr_at, ndcg_at, percentile, recall_at, unique
from retrieval.index.embedding import Embedder
from retrieval.search.hybrid import SearchParams, Stages
from retrieval.settings import RetrievalSettings
from retrieval.types import Answer

log = logging.getLogger(__name__)

# (phase, done, total): "index" while embedding the corpus, "ask" while asking questions.
EvalProgress = Callable[[str, int, int], None]

STAGES = ("dense", "bm25", "fused", "final")
_INDEX_VERSION = "1"  # bump when the way an evaluation corpus is written to files changes


@dataclass(frozen=True)
class RankingScores:
    """Ranking quality of one stage, averaged over the questions."""

    ndcg_at_10: float
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float


@dataclass(frozen=True)
class BeirReport:
    data_set: str
    documents: int
    chunks: int
    questions: int
    stages: dict[str, RankingScores]
    seconds_indexing: float
    seconds_asking: float


@dataclass(frozen=True)
class SquadReport:
    data_set: str
    documents: int
    chunks: int
    questions: int
    stages: dict[str, RankingScores]
    answer_in_text: float  # share of questions whose answer text contains a gold answer
    answer_in_citations: float  # … whose cited passages contain one
    refused: float  # share of questions the composer refused
    latency_p50_ms: float
    latency_p95_ms: float
    seconds_indexing: float


@dataclass(frozen=True)
class ThresholdPoint:
    threshold: float
    refused_unanswerable: float
    answered_answerable: float


@dataclass(frozen=True)
class RefusalReport:
    data_set: str
    documents: int
    answerable: int
    unanswerable: int
    threshold: float  # the configured refusal threshold
    refused_unanswerable: float
    answered_answerable: float
    curve: tuple[ThresholdPoint, ...]
    answer_in_text: float  # among answerable questions that were answered


@dataclass
class _Totals:
    sums: dict[str, float] = field(default_factory=dict)
    n: int = 0

    def add(self, ranking: Sequence[str], relevant: dict[str, int]) -> None:
        values = {
            "ndcg_at_10": ndcg_at(ranking, relevant, 10),
            "recall_at_1": recall_at(ranking, relevant, 1),
            "recall_at_5": recall_at(ranking, relevant, 5),
            "recall_at_10": recall_at(ranking, relevant, 10),
            "recall_at_100": recall_at(ranking, relevant, 100),
            "mrr_at_10": mrr_at(ranking, relevant, 10),
        }
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.n += 1

    def scores(self) -> RankingScores:
        n = max(self.n, 1)
        return RankingScores(**{k: round(v / n, 4) for k, v in sorted(self.sums.items())})


class EvalIndex:
    """An evaluation corpus written as files and ingested into its own archive.

    With `cache_dir` the index is kept in a folder named after the corpus, the embedder
    (model, backend, precision) and the chunk size, and reused by the next run (ingest skips
    unchanged files); without it the index lives in a temporary folder removed by `close`.
    """

    def __init__(
        self,
        eval_set: EvalSet,
        settings: RetrievalSettings,
        embedder: Embedder | None = None,
        cache_dir: Path | None = None,
        progress: EvalProgress | None = None,
        params: SearchParams | None = None,
    ) -> None:
        self.eval_set = eval_set
        self.params = params
        self._temporary = cache_dir is None
        root = (
            Path(tempfile.mkdtemp(prefix="citebot-eval-"))
            if cache_dir is None
            else cache_dir / _corpus_key(eval_set.documents, settings)
        )
        self.root = root
        try:
            self._open(eval_set, settings, embedder, progress)
        except BaseException:
            self.close()  # a temporary index half built is of no use to anyone
            raise

    def _open(
        self,
        eval_set: EvalSet,
        settings: RetrievalSettings,
        embedder: Embedder | None,
        progress: EvalProgress | None,
    ) -> None:
        root = self.root
        corpus = root / "corpus"
        self._names = _write_corpus(eval_set.documents, corpus)
        self.settings = settings.model_copy(
            update={
                "corpus_dir": corpus,
                "data_dir": root / "data",
                "chroma_host": "",  # always a private embedded index, never a shared server
                "chroma_collection": "citebot-eval",
                "llm_provider": "none",  # the extractive answer is what is measured
            }
        )
        started = time.perf_counter()
        self.archive = Archive(self.settings, embedder=embedder, params=self.params)
        files = len(eval_set.documents)

        def ingest_progress(done: int, total: int, name: str) -> None:
            if progress and (done % 200 == 0 or done == total):
                progress("index", done, total)

        report = self.archive.ingest(progress=ingest_progress)
        self.ingest_report = report
        if report.failed:
            log.warning(
                "%d evaluation documents failed to load: %s", len(report.failed), report.failed[:3]
            )
        self.seconds_indexing = time.perf_counter() - started
        self.documents = files
        self.chunks = len(self.archive.lexical)
        # chunk id → the data set's document key, through the file each chunk came from
        by_source = {f"corpus/{name}": key for name, key in self._names.items()}
        self._key_of_chunk = {
            chunk.id: by_source.get(chunk.source, chunk.source)
            for chunk in self.archive.store.scan()
        }

    def key(self, chunk_id: str) -> str:
        """The data set's document key of a chunk."""
        return self._key_of_chunk.get(chunk_id, "")

    def keys(self, chunk_ids: Sequence[str]) -> list[str]:
        """Documents in order of their best chunk."""
        return unique([k for k in (self.key(c) for c in chunk_ids) if k])

    def close(self) -> None:
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def eval_index(
    eval_set: EvalSet,
    settings: RetrievalSettings,
    embedder: Embedder | None = None,
    cache_dir: Path | None = None,
    progress: EvalProgress | None = None,
) -> Iterator[EvalIndex]:
    index = EvalIndex(eval_set, settings, embedder, cache_dir, progress)
    try:
        yield index
    finally:
        index.close()


def evaluate_beir(
    index: EvalIndex, questions: Sequence[EvalQuestion], progress: EvalProgress | None = None
) -> BeirReport:
    """Rank documents for every question, stage by stage."""
    totals = {stage: _Totals() for stage in STAGES}
    started = time.perf_counter()
    for done, question in enumerate(questions, start=1):
        stages = index.archive.search_stages(question.text, 100)
        _score_stages(totals, index, stages, question.relevant)
        _tick(progress, done, len(questions))
    return BeirReport(
        data_set=index.eval_set.name,
        documents=index.documents,
        chunks=index.chunks,
        questions=len(questions),
        stages={stage: totals[stage].scores() for stage in STAGES},
        seconds_indexing=round(index.seconds_indexing, 1),
        seconds_asking=round(time.perf_counter() - started, 1),
    )


def evaluate_squad(
    index: EvalIndex, questions: Sequence[EvalQuestion], progress: EvalProgress | None = None
) -> SquadReport:
    """Ask every question as the product does (search, then compose) and check the answer."""
    archive = index.archive
    totals = {stage: _Totals() for stage in STAGES}
    in_text = in_citations = refused = 0
    latencies: list[float] = []
    for done, question in enumerate(questions, start=1):
        stages = archive.search_stages(question.text, 10)
        started = time.perf_counter()
        answer = archive.ask(question.text).answer
        latencies.append(time.perf_counter() - started)
        _score_stages(totals, index, stages, question.relevant)
        text_hit, cited_hit = answer_contains(answer, question.answers)
        in_text += text_hit
        in_citations += cited_hit
        refused += answer.refused
        _tick(progress, done, len(questions))
    n = max(len(questions), 1)
    return SquadReport(
        data_set=index.eval_set.name,
        documents=index.documents,
        chunks=index.chunks,
        questions=len(questions),
        stages={stage: totals[stage].scores() for stage in STAGES},
        answer_in_text=round(in_text / n, 4),
        answer_in_citations=round(in_citations / n, 4),
        refused=round(refused / n, 4),
        latency_p50_ms=round(1000 * percentile(latencies, 50), 1),
        latency_p95_ms=round(1000 * percentile(latencies, 95), 1),
        seconds_indexing=round(index.seconds_indexing, 1),
    )


def split_for_refusal(eval_set: EvalSet) -> tuple[EvalSet, list[EvalQuestion], list[EvalQuestion]]:
    """Half the articles (every other one) as the corpus; the questions on those articles are
    answerable, the questions on the other half are not (their paragraphs are absent)."""
    articles = list(dict.fromkeys(d.title for d in eval_set.documents))
    kept = set(articles[::2])
    documents = tuple(d for d in eval_set.documents if d.title in kept)
    answerable = [q for q in eval_set.questions if q.group in kept]
    unanswerable = [q for q in eval_set.questions if q.group not in kept]
    return EvalSet(f"{eval_set.name}-half", documents, ()), answerable, unanswerable


def evaluate_refusal(
    index: EvalIndex,
    answerable: Sequence[EvalQuestion],
    unanswerable: Sequence[EvalQuestion],
    progress: EvalProgress | None = None,
) -> RefusalReport:
    """The composer's confidence on both kinds of question, and what every threshold does."""
    archive = index.archive
    threshold = archive.settings.refusal_threshold
    scores: dict[bool, list[float]] = {True: [], False: []}
    found = answered = 0
    total = len(answerable) + len(unanswerable)
    asked = 0
    for can, questions in ((True, answerable), (False, unanswerable)):
        for question in questions:
            answer = archive.ask(question.text).answer
            scores[can].append(answer.confidence)
            if can and not answer.refused:
                answered += 1
                found += answer_contains(answer, question.answers)[0]
            asked += 1
            _tick(progress, asked, total)
    curve = tuple(
        ThresholdPoint(
            threshold=t,
            refused_unanswerable=_share_below(scores[False], t),
            answered_answerable=round(1.0 - _share_below(scores[True], t), 4),
        )
        for t in [round(0.05 * i, 2) for i in range(21)]
    )
    return RefusalReport(
        data_set=index.eval_set.name,
        documents=index.documents,
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        threshold=threshold,
        refused_unanswerable=_share_below(scores[False], threshold),
        answered_answerable=round(1.0 - _share_below(scores[True], threshold), 4),
        curve=curve,
        answer_in_text=round(found / max(answered, 1), 4),
    )


@dataclass(frozen=True)
class Squad2Report:
    data_set: str
    documents: int
    answerable: int
    unanswerable: int
    threshold: float  # the configured refusal threshold
    refused_unanswerable: float  # share of unanswerable questions refused
    answered_answerable: float  # share of answerable questions answered
    answer_in_text: float  # among answerable questions answered: gold answer in the text
    # … and the first highlighted span is a gold answer (SQuAD normalisation)
    highlight_exact: float
    refused_by_rules: float  # unanswerable refused because no sentence passes the checks
    curve: tuple[ThresholdPoint, ...]
    latency_p50_ms: float
    latency_p95_ms: float


def evaluate_squad2(
    index: EvalIndex,
    questions: Sequence[EvalQuestion],
    threshold: float,
    progress: EvalProgress | None = None,
) -> Squad2Report:
    """SQuAD 2.0 as answerability: every question's paragraph is indexed, so an unanswerable
    question finds its topic in the archive but not its answer.

    The index's archive must refuse by answerability alone (`REFUSAL_THRESHOLD=0`); the
    figures at `threshold`, and the curve, add the confidence threshold on top (a question
    is refused at t if nothing answers it or its confidence is below t).
    """
    archive = index.archive
    # answerable, refused, confidence, gold in the text, highlight = gold
    rows: list[tuple[bool, bool, float, bool, bool]] = []
    latencies: list[float] = []
    for done, question in enumerate(questions, start=1):
        started = time.perf_counter()
        answer = archive.ask(question.text).answer
        latencies.append(time.perf_counter() - started)
        found = question.answerable and answer_contains(answer, question.answers)[0]
        exact = question.answerable and highlight_exact(
            answer.text, answer.highlights, question.answers
        )
        rows.append((question.answerable, answer.refused, answer.confidence, found, exact))
        _tick(progress, done, len(questions))

    def at(t: float) -> tuple[float, float, float, float]:
        refused = [(can, ref or conf < t, found, ex) for can, ref, conf, found, ex in rows]
        unanswerable = [ref for can, ref, _, _ in refused if not can]
        answered = [(found, ex) for can, ref, found, ex in refused if can and not ref]
        answerable = sum(1 for can, *_ in refused if can)
        n = max(len(answered), 1)
        return (
            round(sum(unanswerable) / max(len(unanswerable), 1), 4),
            round(len(answered) / max(answerable, 1), 4),
            round(sum(found for found, _ in answered) / n, 4),
            round(sum(ex for _, ex in answered) / n, 4),
        )

    refused_share, answered_share, in_text, exact_share = at(threshold)
    by_rules = [ref for can, ref, *_ in rows if not can]
    return Squad2Report(
        data_set=index.eval_set.name,
        documents=index.documents,
        answerable=sum(1 for r in rows if r[0]),
        unanswerable=sum(1 for r in rows if not r[0]),
        threshold=threshold,
        refused_unanswerable=refused_share,
        answered_answerable=answered_share,
        answer_in_text=in_text,
        highlight_exact=exact_share,
        refused_by_rules=round(sum(by_rules) / max(len(by_rules), 1), 4),
        curve=tuple(ThresholdPoint(t, *at(t)[:2]) for t in [round(0.05 * i, 2) for i in range(21)]),
        latency_p50_ms=round(1000 * percentile(latencies, 50), 1),
        latency_p95_ms=round(1000 * percentile(latencies, 95), 1),
    )


def answer_contains(answer: Answer, golds: Sequence[str]) -> tuple[bool, bool]:
    """Whether a gold answer string occurs in the answer text, and in the cited passages
    (case and spacing ignored)."""
    wanted = [_normal(g) for g in golds if g.strip()]
    if not wanted:
        return False, False
    text = "" if answer.refused else _normal(answer.text)
    cited = _normal(" \n ".join(c.passage for c in answer.citations))
    return any(g in text for g in wanted), any(g in cited for g in wanted)


def select(
    questions: Sequence[EvalQuestion], subset: str = "all", limit: int | None = None
) -> list[EvalQuestion]:
    """The questions to ask: all, or the even- or odd-numbered half (tune on one half, report
    on the other), at most `limit`."""
    if subset not in ("all", "even", "odd"):
        raise ValueError(f"unknown subset {subset!r}")
    chosen = list(questions)
    if subset != "all":
        chosen = chosen[(0 if subset == "even" else 1) :: 2]
    return chosen[:limit] if limit else chosen


def _score_stages(
    totals: dict[str, _Totals], index: EvalIndex, stages: Stages, relevant: dict[str, int]
) -> None:
    """Add one question's document ranking at every stage to the running totals."""
    rankings = {
        "dense": index.keys(stages.dense),
        "bm25": index.keys(stages.lexical),
        "fused": index.keys(stages.fused),
        "final": index.keys([h.chunk.id for h in stages.final]),
    }
    for stage, ranking in rankings.items():
        totals[stage].add(ranking, relevant)


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _share_below(values: Sequence[float], threshold: float) -> float:
    """Share of the confidences under the threshold: the questions it would refuse."""
    return round(sum(1 for v in values if v < threshold) / max(len(values), 1), 4)


def _tick(progress: EvalProgress | None, done: int, total: int) -> None:
    if progress and (done % 50 == 0 or done == total):
        progress("ask", done, total)


def _file_name(n: int) -> str:
    return f"doc-{n:07d}.txt"


def _write_corpus(documents: Sequence[EvalDocument], folder: Path) -> dict[str, str]:
    """Each document as a text file with its title in front matter; file name → key.
    Files already there with the same content are left alone (their mtime too)."""
    folder.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for n, document in enumerate(documents):
        name = _file_name(n)
        title = " ".join(document.title.split())
        body = f"---\ntitle: {title}\n---\n{document.text.strip()}\n"
        path = folder / name
        data = body.encode("utf-8")
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        names[name] = document.key
    for stale in folder.glob("doc-*.txt"):
        if stale.name not in names:
            stale.unlink()
    return names


def _corpus_key(documents: Sequence[EvalDocument], settings: RetrievalSettings) -> str:
    digest = hashlib.sha256()
    for part in (
        _INDEX_VERSION,
        settings.embedding_model or "bundled-all-MiniLM-L6-v2",
        f"{settings.embedding_backend}-{settings.embedding_precision}",
        str(settings.chunk_max_chars),
    ):
        digest.update(part.encode() + b"\0")
    for document in documents:
        for part in (document.key, document.title, document.text):
            digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]
