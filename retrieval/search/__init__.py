"""Search: hybrid dense + BM25 retrieval (hybrid) and date-aware questions (dates)."""

from retrieval.search.hybrid import Searcher, SearchParams, Stages

__all__ = ["SearchParams", "Searcher", "Stages"]
