"""Hybrid search: dense (Chroma, cosine) and lexical (BM25) candidates, fused by a weighted
sum of scores, then de-duplicated and diversified into the top k hits.

The fused score of a passage (measured with `citebot eval`; see the README's quality table):

    cosine similarity + lexical_weight × BM25 / best BM25 + title_weight × title coverage

- Reciprocal rank fusion throws the scores away: a passage BM25 ranks far above the rest
  counts no more than a close second. The cosine keeps its own scale (comparable across
  questions, which the refusal threshold also relies on); BM25, whose scale depends on the
  question, is divided by the best BM25 among the candidates.
- Title coverage is the IDF-weighted share of the question's terms found in the document
  title: a title names what the whole document is about, beyond the passage at hand.
- A candidate that only one retriever found gets the other's lowest candidate score, a bound
  on what it would have had.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from retrieval.index.embedding import Embedder
from retrieval.index.lexical import LexicalIndex
from retrieval.index.store import Store
from retrieval.text import terms, weighted_overlap
from retrieval.types import Hit


@dataclass(frozen=True)
class SearchParams:
    """Tunable knobs of the hybrid search (tuned with `citebot eval`)."""

    candidates: int = 100  # chunks asked of each retriever
    lexical_weight: float = 0.5  # weight of BM25 / best BM25 beside the cosine similarity
    title_weight: float = 0.1  # weight of the question's IDF-weighted coverage by the title
    max_per_paragraph: int = 2  # diversity: at most this many hits from one paragraph
    # "weighted" (the above) or "rrf": plain reciprocal rank fusion, kept for comparison.
    fusion: Literal["weighted", "rrf"] = "weighted"
    rrf_k: float = 60.0
    # BM25 saturation and length normalisation, tuned with `citebot eval` (SciFact, SQuAD):
    # early term saturation and mild length normalisation rank passages better beside the
    # dense scores than the textbook 1.2/0.75. They shape the index: changing them rebuilds it.
    bm25_k1: float = 0.4
    bm25_b: float = 0.4


@dataclass(frozen=True)
class Stages:
    """Every stage's ranking, for evaluation: chunk ids, best first; and the final hits.

    `filtered` describes the date range the search was limited to ("" if none); `notes`
    say how the question's dates were applied.
    """

    dense: list[str]
    lexical: list[str]
    fused: list[str]
    final: list[Hit]
    filtered: str = ""
    notes: tuple[str, ...] = ()


class Searcher:
    """Runs one question through both retrievers and the fusion."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        lexical: LexicalIndex,
        params: SearchParams | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.params = params or SearchParams()

    def search(self, question: str, k: int, date_range: tuple[int, int] | None = None) -> list[Hit]:
        """The final hits of `stages`."""
        return self.stages(question, k, date_range).final

    def stages(self, question: str, k: int, date_range: tuple[int, int] | None = None) -> Stages:
        p = self.params
        where = None
        if date_range is not None:
            where = {
                "$and": [
                    {"date_ord": {"$gte": date_range[0]}},
                    {"date_ord": {"$lte": date_range[1]}},
                ]
            }
        n = min(p.candidates, max(len(self.lexical), 1))
        dense: list[tuple[str, float]] = []
        if len(self.lexical):
            vector = self.embedder.embed([question])[0]
            dense = self.store.nearest(vector, n, where)
        lexical = self.lexical.search(terms(question), n, date_range)

        similarity = dict(dense)
        lexical_score = dict(lexical)
        ids = list(dict.fromkeys([*similarity, *lexical_score]))
        question_terms = set(terms(question))
        if p.fusion == "rrf":
            fused = reciprocal_rank_fusion([list(similarity), list(lexical_score)], p.rrf_k)
        else:
            titles = {
                i: title_coverage(question_terms, self._title(i), self.lexical.idf) for i in ids
            }
            fused = fuse(ids, similarity, lexical_score, titles, p)
        order = sorted(ids, key=lambda i: -fused[i])
        final = self._diversify(order, fused, similarity, lexical_score, k)
        return Stages(
            dense=[i for i, _ in dense],
            lexical=[i for i, _ in lexical],
            fused=order,
            final=final,
        )

    def _title(self, chunk_id: str) -> str:
        document = self.lexical.document_of(chunk_id)
        return document.title if document else ""

    def _diversify(
        self,
        order: list[str],
        fused: dict[str, float],
        similarity: dict[str, float],
        lexical_score: dict[str, float],
        k: int,
    ) -> list[Hit]:
        """The top k, skipping repeated texts and a third hit from one paragraph.

        Chunks are read from the store a few at a time, best first: most questions need
        little more than k of the candidates' texts.
        """
        final: list[Hit] = []
        seen_text: set[bytes] = set()
        per_paragraph: dict[tuple[str, str], int] = defaultdict(int)
        window = max(2 * k, 8)
        for start in range(0, len(order), window):
            for chunk in self.store.get(order[start : start + window]):
                fingerprint = hashlib.sha1(" ".join(chunk.text.split()).lower().encode()).digest()
                place = (chunk.document_id, chunk.location.split("–")[0])
                if (
                    fingerprint in seen_text
                    or per_paragraph[place] >= self.params.max_per_paragraph
                ):
                    continue
                seen_text.add(fingerprint)
                per_paragraph[place] += 1
                found_by = {"dense"} if chunk.id in similarity else set()
                if chunk.id in lexical_score:
                    found_by.add("bm25")
                final.append(
                    Hit(
                        chunk=chunk,
                        score=fused[chunk.id],
                        retrievers=frozenset(found_by),
                        dense_similarity=similarity.get(chunk.id),
                        lexical_score=lexical_score.get(chunk.id),
                    )
                )
                if len(final) == k:
                    return final
        return final


def fuse(
    ids: list[str],
    similarity: dict[str, float],
    lexical_score: dict[str, float],
    title: dict[str, float],
    params: SearchParams,
) -> dict[str, float]:
    """The fused score of every candidate (see the module's docstring)."""
    dense_floor = min(similarity.values(), default=0.0)
    lexical_floor = min(lexical_score.values(), default=0.0)
    lexical_best = max(lexical_score.values(), default=0.0) or 1.0
    return {
        i: similarity.get(i, dense_floor)
        + params.lexical_weight * lexical_score.get(i, lexical_floor) / lexical_best
        + params.title_weight * title.get(i, 0.0)
        for i in ids
    }


def reciprocal_rank_fusion(rankings: list[list[str]], k: float = 60.0) -> dict[str, float]:
    """Σ 1 / (k + rank) over the rankings that hold an id (Cormack et al., 2009)."""
    fused: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] += 1.0 / (k + rank)
    return dict(fused)


def title_coverage(question_terms: set[str], title: str, idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the question's terms that occur in the title (0..1)."""
    if not question_terms or not title:
        return 0.0
    return weighted_overlap(question_terms, _title_terms(title), idf)


@lru_cache(maxsize=65536)
def _title_terms(title: str) -> frozenset[str]:
    return frozenset(terms(title))
