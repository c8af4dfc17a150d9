"""Hybrid search: dense (Chroma, cosine) and lexical (BM25) candidates, fused by weighted
reciprocal rank, then de-duplicated and diversified into the top k hits."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from retrieval.embedding import Embedder
from retrieval.lexical import LexicalIndex
from retrieval.store import Store
from retrieval.text import terms
from retrieval.types import Chunk, Hit


@dataclass(frozen=True)
class SearchParams:
    """Tunable knobs of the hybrid search (see `citebot eval`)."""

    candidates: int = 50
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    max_per_paragraph: int = 2


@dataclass(frozen=True)
class Stages:
    """Every stage's ranking, for evaluation: chunk ids, best first."""

    dense: list[str]
    lexical: list[str]
    fused: list[str]
    final: list[Hit]


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
        return self.stages(question, k, date_range).final

    def stages(self, question: str, k: int, date_range: tuple[int, int] | None = None) -> Stages:
        p = self.params
        vector = self.embedder.embed([question])[0]
        where = None
        if date_range is not None:
            where = {
                "$and": [
                    {"date_ord": {"$gte": date_range[0]}},
                    {"date_ord": {"$lte": date_range[1]}},
                ]
            }
        n = min(p.candidates, max(len(self.lexical), 1))
        dense = self.store.query(vector, n, where) if len(self.lexical) else []
        lexical = self.lexical.search(terms(question), n, date_range)

        chunks: dict[str, Chunk] = {c.id: c for c, _ in dense}
        similarity = {c.id: s for c, s in dense}
        lexical_score = dict(lexical)
        missing = [i for i, _ in lexical if i not in chunks]
        chunks.update({c.id: c for c in self.store.get(missing)})

        fused: dict[str, float] = defaultdict(float)
        found_by: dict[str, set[str]] = defaultdict(set)
        for rank, (chunk, _) in enumerate(dense):
            fused[chunk.id] += p.dense_weight / (p.rrf_k + rank + 1)
            found_by[chunk.id].add("dense")
        for rank, (chunk_id, _) in enumerate(lexical):
            fused[chunk_id] += p.lexical_weight / (p.rrf_k + rank + 1)
            found_by[chunk_id].add("bm25")
        order = sorted((i for i in fused if i in chunks), key=lambda i: -fused[i])

        final: list[Hit] = []
        seen_text: set[str] = set()
        per_paragraph: dict[tuple[str, str], int] = defaultdict(int)
        for chunk_id in order:
            chunk = chunks[chunk_id]
            fingerprint = hashlib.sha1(" ".join(chunk.text.split()).lower().encode()).hexdigest()
            place = (chunk.document_id, chunk.location.split("–")[0])
            if fingerprint in seen_text or per_paragraph[place] >= p.max_per_paragraph:
                continue
            seen_text.add(fingerprint)
            per_paragraph[place] += 1
            final.append(
                Hit(
                    chunk=chunk,
                    score=fused[chunk_id],
                    retrievers=frozenset(found_by[chunk_id]),
                    dense_similarity=similarity.get(chunk_id),
                    lexical_score=lexical_score.get(chunk_id),
                )
            )
            if len(final) == k:
                break
        return Stages(
            dense=[c.id for c, _ in dense],
            lexical=[i for i, _ in lexical],
            fused=order,
            final=final,
        )
