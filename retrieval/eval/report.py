"""Evaluation reports as text tables (the JSON form is `dataclasses.asdict` of the report)."""

from __future__ import annotations

import json
from dataclasses import asdict

from retrieval.eval.run import (
    BeirReport,
    RankingScores,
    RefusalReport,
    Squad2Report,
    SquadReport,
    ThresholdPoint,
)

Report = BeirReport | SquadReport | RefusalReport | Squad2Report


def to_json(report: Report) -> str:
    """The report as one line of JSON, with a `kind` field naming the evaluation."""
    kind = {
        BeirReport: "beir",
        SquadReport: "squad",
        RefusalReport: "refusal",
        Squad2Report: "squad2",
    }[type(report)]
    return json.dumps({"kind": kind, **asdict(report)})


def render(report: Report) -> str:
    if isinstance(report, BeirReport):
        return _beir(report)
    if isinstance(report, SquadReport):
        return _squad(report)
    if isinstance(report, Squad2Report):
        return _squad2(report)
    return _refusal(report)


def _stage_table(stages: dict[str, RankingScores], columns: list[tuple[str, str]]) -> list[str]:
    head = f"{'stage':<7}" + "".join(f"{title:>12}" for title, _ in columns)
    lines = [head, "-" * len(head)]
    for stage, scores in stages.items():
        values = asdict(scores)
        lines.append(f"{stage:<7}" + "".join(f"{values[name]:>12.4f}" for _, name in columns))
    return lines


def _beir(report: BeirReport) -> str:
    lines = [
        f"{report.data_set}: {report.questions} queries over {report.documents:,} documents"
        f" ({report.chunks:,} chunks); indexed in {report.seconds_indexing:.0f} s,"
        f" asked in {report.seconds_asking:.0f} s",
        "",
        *_stage_table(
            report.stages,
            [
                ("nDCG@10", "ndcg_at_10"),
                ("recall@10", "recall_at_10"),
                ("recall@100", "recall_at_100"),
                ("MRR@10", "mrr_at_10"),
            ],
        ),
    ]
    return "\n".join(lines)


def _squad(report: SquadReport) -> str:
    lines = [
        f"{report.data_set}: {report.questions:,} questions over {report.documents:,} paragraphs"
        f" ({report.chunks:,} chunks); indexed in {report.seconds_indexing:.0f} s",
        "",
        "gold paragraph, by stage:",
        *_stage_table(
            report.stages,
            [
                ("recall@1", "recall_at_1"),
                ("recall@5", "recall_at_5"),
                ("recall@10", "recall_at_10"),
                ("MRR@10", "mrr_at_10"),
            ],
        ),
        "",
        f"gold answer in the answer text:     {report.answer_in_text:.4f}",
        f"gold answer in the cited passages:  {report.answer_in_citations:.4f}",
        f"refused:                            {report.refused:.4f}",
        f"question latency (search + answer): p50 {report.latency_p50_ms:.1f} ms,"
        f" p95 {report.latency_p95_ms:.1f} ms",
    ]
    return "\n".join(lines)


def _curve(curve: tuple[ThresholdPoint, ...], threshold: float) -> list[str]:
    """The refusal curve as a table, the configured threshold marked."""
    lines = [f"{'threshold':>9}  {'refuses unanswerable':>20}  {'answers answerable':>18}"]
    for point in curve:
        mark = "  ← REFUSAL_THRESHOLD" if abs(point.threshold - threshold) < 1e-9 else ""
        lines.append(
            f"{point.threshold:>9.2f}  {point.refused_unanswerable:>20.4f}"
            f"  {point.answered_answerable:>18.4f}{mark}"
        )
    return lines


def _refusal(report: RefusalReport) -> str:
    lines = [
        f"{report.data_set}: {report.documents:,} paragraphs indexed;"
        f" {report.answerable:,} answerable and {report.unanswerable:,} unanswerable questions",
        "",
        *_curve(report.curve, report.threshold),
    ]
    lines += [
        "",
        f"at REFUSAL_THRESHOLD={report.threshold:g}: refuses {report.refused_unanswerable:.4f}"
        f" of unanswerable, answers {report.answered_answerable:.4f} of answerable",
        f"gold answer in the text of answered answerable questions: {report.answer_in_text:.4f}",
    ]
    return "\n".join(lines)


def _squad2(report: Squad2Report) -> str:
    lines = [
        f"{report.data_set}: {report.documents:,} paragraphs indexed;"
        f" {report.answerable:,} answerable and {report.unanswerable:,} unanswerable questions"
        " (every paragraph indexed: the topic is there, the answer may not be)",
        "",
        *_curve(report.curve, report.threshold),
    ]
    lines += [
        "",
        f"at REFUSAL_THRESHOLD={report.threshold:g}: refuses {report.refused_unanswerable:.4f}"
        f" of unanswerable ({report.refused_by_rules:.4f} because no sentence passes the"
        f" checks), answers {report.answered_answerable:.4f} of answerable",
        f"gold answer in the text of answered answerable questions: {report.answer_in_text:.4f}",
        f"highlighted answer = a gold answer (SQuAD exact match) in those:"
        f" {report.highlight_exact:.4f}",
        f"question latency: p50 {report.latency_p50_ms:.1f} ms, p95 {report.latency_p95_ms:.1f} ms",
    ]
    return "\n".join(lines)
