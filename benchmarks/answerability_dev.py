"""Answerability rules measured on SQuAD: does the answering sentence pass, is the span right,
and are unanswerable questions refused?

    .venv/bin/python benchmarks/answerability_dev.py --subset even   # tune here
    .venv/bin/python benchmarks/answerability_dev.py --subset odd    # report here

Questions are numbered 0, 1, 2 … in file order; `even` and `odd` pick by that number. For
SQuAD v1.1 (answerable): recall is the share of questions whose gold sentence (the one holding
the first gold answer) gets a verdict; span precision is the share of those verdicts whose span
overlaps a gold answer; "other sentences passed" is the share of the paragraph's other
sentences that also get a verdict (lower means more selective). For SQuAD 2.0 unanswerable
questions, refusal is the share for which no sentence of the paragraph gets a verdict.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

from common import SQUAD, SQUAD2

from retrieval.answer.answerability import AnswerType, analyze, answers, context_of
from retrieval.text import sentence_spans


def questions(path: Path, subset: str) -> Iterator[tuple[str, str, dict]]:
    """(title, paragraph, question) for the subset's questions, in file order."""
    index = 0
    for article in json.loads(path.read_text())["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if subset == "all" or (index % 2 == 0) == (subset == "even"):
                    yield article["title"].replace("_", " "), paragraph["context"], qa
                index += 1


def gold_sentence(spans: list[tuple[int, int]], offset: int) -> int | None:
    """The index of the sentence holding a character offset."""
    for i, (start, end) in enumerate(spans):
        if start <= offset < end:
            return i
    return None


def answerable(path: Path, subset: str, limit: int | None) -> dict[str, object]:
    """Recall, span precision and selectivity on answerable questions, overall and by type."""
    totals: Counter[str] = Counter()
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    seconds = 0.0
    checked = 0
    for n, (title, text, qa) in enumerate(questions(path, subset)):
        if limit is not None and n >= limit:
            break
        if qa.get("is_impossible"):
            continue
        spans = sentence_spans(text)
        gold = qa["answers"][0]
        index = gold_sentence(spans, gold["answer_start"])
        if index is None:
            continue
        analysis = analyze(qa["question"])
        context = context_of(text, title)
        started = time.perf_counter()
        verdicts = [answers(text[a:b], analysis, context) for a, b in spans]
        seconds += time.perf_counter() - started
        checked += len(spans)
        kind = analysis.answer_type.value
        row = by_type[kind]
        for counter in (totals, row):
            counter["questions"] += 1
            counter["others"] += len(spans) - 1
            counter["others_passed"] += sum(
                1 for i, v in enumerate(verdicts) if v is not None and i != index
            )
        verdict = verdicts[index]
        if verdict is None:
            continue
        start = spans[index][0]
        hit = verdict.kind == "support" or any(
            verdict.start + start < g["answer_start"] + len(g["text"])
            and g["answer_start"] < verdict.end + start
            for g in qa["answers"]
        )
        for counter in (totals, row):
            counter["answered"] += 1
            counter["span_hit"] += hit
            counter["typed"] += verdict.kind != "support"
            counter["typed_hit"] += hit and verdict.kind != "support"
    return {
        "totals": totals,
        "by_type": by_type,
        "ms_per_sentence": 1000 * seconds / max(checked, 1),
    }


def unanswerable(path: Path, subset: str, limit: int | None) -> dict[str, Counter[str]]:
    """Refusal on SQuAD 2.0 unanswerable questions, and recall on its answerable ones."""
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    for n, (title, text, qa) in enumerate(questions(path, subset)):
        if limit is not None and n >= limit:
            break
        analysis = analyze(qa["question"])
        context = context_of(text, title)
        spans = sentence_spans(text)
        verdicts = [answers(text[a:b], analysis, context) for a, b in spans]
        row = by_type[analysis.answer_type.value]
        if qa["is_impossible"]:
            row["impossible"] += 1
            row["refused"] += all(v is None for v in verdicts)
        else:
            index = gold_sentence(spans, qa["answers"][0]["answer_start"])
            row["possible"] += 1
            row["possible_answered"] += index is not None and verdicts[index] is not None
    return by_type


def share(part: int, whole: int) -> str:
    """A percentage with one decimal, or a dash."""
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def main() -> None:
    """Print the figures for the chosen subset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subset", choices=("even", "odd", "all"), default="even")
    parser.add_argument("--limit", type=int, default=None, help="questions per data set")
    args = parser.parse_args()

    started = time.perf_counter()
    for _ in range(2000):
        analyze("Who won the women's singles at Wimbledon in 2018?")
    analyze_ms = (time.perf_counter() - started) / 2000 * 1000

    result = answerable(SQUAD, args.subset, args.limit)
    totals = result["totals"]
    assert isinstance(totals, Counter)
    print(f"SQuAD v1.1 dev, {args.subset} questions ({totals['questions']})")
    print("  type      questions  recall  span-precision  typed-span-precision  others-passed")
    by_type = result["by_type"]
    assert isinstance(by_type, dict)
    kinds = [k.value for k in AnswerType if k.value in by_type]
    for kind, row in [*((k, by_type[k]) for k in kinds), ("ALL", totals)]:
        print(
            f"  {kind:<9} {row['questions']:>9}  {share(row['answered'], row['questions'])}"
            f"  {share(row['span_hit'], row['answered']):>14}"
            f"  {share(row['typed_hit'], row['typed']):>20}"
            f"  {share(row['others_passed'], row['others']):>13}"
        )
    print(
        f"  speed: analyze {analyze_ms:.3f} ms/question, answers {result['ms_per_sentence']:.3f}"
        " ms/sentence"
    )

    refusals = unanswerable(SQUAD2, args.subset, args.limit)
    print(f"SQuAD 2.0 dev (CS224N half), {args.subset} questions")
    print("  type      unanswerable  refused  answerable  gold-sentence-answered")
    total: Counter[str] = Counter()
    for kind in [k.value for k in AnswerType if k.value in refusals]:
        row = refusals[kind]
        total.update(row)
        print(
            f"  {kind:<9} {row['impossible']:>12}  {share(row['refused'], row['impossible'])}"
            f"  {row['possible']:>10}  {share(row['possible_answered'], row['possible']):>22}"
        )
    print(
        f"  {'ALL':<9} {total['impossible']:>12}  {share(total['refused'], total['impossible'])}"
        f"  {total['possible']:>10}  {share(total['possible_answered'], total['possible']):>22}"
    )


if __name__ == "__main__":
    main()
