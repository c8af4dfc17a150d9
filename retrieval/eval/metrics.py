"""Metrics for the evaluation: nDCG, recall and MRR at a cut-off, percentiles, and SQuAD's
exact match of a highlighted answer.

Every function takes a ranking (ids, best first) and the graded relevance of the ids that
matter (`{id: grade}`, grade > 0 is relevant), as in BEIR qrels.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping, Sequence


def ndcg_at(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain of the first k results (linear gains, as BEIR)."""
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    best = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    if best <= 0:
        return 0.0
    gained = sum(
        max(relevant.get(item, 0), 0) / math.log2(rank + 2) for rank, item in enumerate(ranking[:k])
    )
    return gained / best


def recall_at(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant ids found in the first k results."""
    wanted = {item for item, grade in relevant.items() if grade > 0}
    if not wanted:
        return 0.0
    return len(wanted & set(ranking[:k])) / len(wanted)


def mrr_at(ranking: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant result within the first k (0 if none)."""
    for rank, item in enumerate(ranking[:k], start=1):
        if relevant.get(item, 0) > 0:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def unique(ranking: Sequence[str]) -> list[str]:
    """The ranking with repeats removed, first occurrence kept (chunks → their documents)."""
    seen: set[str] = set()
    out: list[str] = []
    for item in ranking:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normal(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


_PUNCTUATION = frozenset(string.punctuation)


def highlight_exact(text: str, highlights: Sequence[tuple[int, int]], golds: Sequence[str]) -> bool:
    """Whether the first highlighted span of an answer is a gold answer (SQuAD exact match)."""
    if not highlights:
        return False
    start, end = highlights[0]
    said = squad_normal(text[start:end])
    return bool(said) and any(said == squad_normal(g) for g in golds)
