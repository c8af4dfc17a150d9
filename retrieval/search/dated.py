"""Searching with a question's dates applied (the reading is `retrieval.search.dates`): a range
filters documents by date, an order re-ranks the relevant hits, and an event is dated from
the archive's own passages first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from retrieval.search.dates import DateConstraint, Order, mentioned_dates
from retrieval.search.hybrid import Searcher, Stages
from retrieval.text import sentence_spans, terms
from retrieval.types import Hit


def event_date(event: str, hits: Sequence[Hit]) -> date | None:
    """When the event happened, according to the passages found for it: the date stated in
    the sentence that shares most of the event's words; failing that, the earliest
    publication date among the passages (the first report comes after the event)."""
    wanted = set(terms(event))
    best: tuple[float, date] | None = None
    for rank, hit in enumerate(hits):
        text = hit.chunk.text
        for start, end in sentence_spans(text):
            sentence = text[start:end]
            days = mentioned_dates(sentence, hit.chunk.date)
            if not days:
                continue
            overlap = len(wanted & set(terms(sentence))) / max(len(wanted), 1)
            if overlap == 0:
                continue
            score = overlap - 0.01 * rank
            if best is None or score > best[0]:
                best = (score, min(days))
    if best is not None:
        return best[1]
    published = [h.chunk.date for h in hits if h.chunk.date]
    return min(published) if published else None


def order_hits(hits: Sequence[Hit], order: Order, keep: float = 0.6) -> list[Hit]:
    """Hits re-ranked by date (newest or oldest first) among those whose score is at least
    `keep` times the best; dated ones first, the less relevant ones after, as they were."""
    if not hits:
        return []
    best = max(h.score for h in hits)
    relevant = [h for h in hits if h.score >= keep * best]
    rest = [h for h in hits if h.score < keep * best]
    dated = [h for h in relevant if h.chunk.date]
    undated = [h for h in relevant if not h.chunk.date]
    dated.sort(key=lambda h: h.chunk.date or date.min, reverse=order == "newest")
    return dated + undated + rest


def dated_stages(
    searcher: Searcher, question: str, k: int, constraint: DateConstraint, pool: int = 20
) -> Stages:
    """Search with a date constraint applied.

    - An event ("before the attack") is dated first, from the passages found for it; if no
      date can be found for it the question is searched without a constraint.
    - A range filters documents by date; when nothing dated in the range matches, the whole
      archive is searched (and a note says so).
    - An order ("latest") re-ranks the relevant hits by date.
    """
    notes: list[str] = []
    if constraint.event:
        when = event_date(constraint.event, searcher.search(constraint.event, 5))
        if when is None:
            return replace(
                searcher.stages(question, k),
                notes=(f"No date found for {constraint.event!r}; dates were not used.",),
            )
        constraint = constraint.resolved(when)
        notes.append(f"{constraint.event} is dated {when.isoformat()} by the archive.")
    depth = max(k, pool) if constraint.order else k
    stages: Stages | None = None
    if constraint.has_range:
        filtered = searcher.stages(question, depth, constraint.ordinal_range())
        if filtered.final:
            stages = replace(filtered, filtered=constraint.describe())
            notes.append(f"Searched documents dated {constraint.describe()}.")
        else:
            notes.append(f"Nothing is dated {constraint.describe()}; searched every date.")
    if stages is None:
        stages = searcher.stages(question, depth)
    final = list(stages.final)
    if constraint.order:
        final = order_hits(final, constraint.order)
        notes.append(f"{constraint.order.capitalize()} relevant sources first.")
    return replace(stages, final=final[:k], notes=(*stages.notes, *notes))
