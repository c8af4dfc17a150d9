"""Search: hybrid dense + BM25 retrieval (hybrid), reading the dates a question states
(dates) and searching with them applied (dated)."""

from retrieval.search.dated import dated_stages
from retrieval.search.dates import DateConstraint, detect
from retrieval.search.hybrid import Searcher, SearchParams, Stages

__all__ = ["DateConstraint", "SearchParams", "Searcher", "Stages", "dated_stages", "detect"]
