"""Hybrid search: the fusion formula, and the real searcher (real model, real Chroma) on a
small corpus where each retriever alone gets a different question right."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from retrieval.archive import Archive
from retrieval.index.embedding import Embedder
from retrieval.search.hybrid import (
    SearchParams,
    fuse,
    reciprocal_rank_fusion,
    title_coverage,
)


def test_fusion_adds_normalised_bm25_and_title_coverage_to_the_cosine() -> None:
    similarity = {"a": 0.60, "b": 0.50}
    lexical = {"b": 8.0, "c": 4.0}
    titles = {"a": 0.0, "b": 0.0, "c": 1.0}
    params = SearchParams(lexical_weight=0.5, title_weight=0.1)
    fused = fuse(["a", "b", "c"], similarity, lexical, titles, params)
    # a: dense only, so BM25 counts as the lowest BM25 candidate (4.0 of best 8.0)
    assert fused["a"] == pytest.approx(0.60 + 0.5 * 0.5)
    assert fused["b"] == pytest.approx(0.50 + 0.5 * 1.0)
    # c: BM25 only, so its cosine is bounded by the lowest dense candidate's
    assert fused["c"] == pytest.approx(0.50 + 0.5 * 0.5 + 0.1)
    assert max(fused, key=lambda i: fused[i]) == "b"  # found by both, strongly by BM25


def test_fusion_without_lexical_candidates_is_the_cosine() -> None:
    fused = fuse(["a", "b"], {"a": 0.4, "b": 0.3}, {}, {}, SearchParams(title_weight=0.0))
    assert fused == pytest.approx({"a": 0.4, "b": 0.3})


def test_reciprocal_rank_fusion_sums_over_rankings() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)


def test_title_coverage_weights_terms_by_rarity() -> None:
    idf = {"volcano": 3.0, "erupt": 1.0}.get
    question = {"volcano", "erupt"}
    assert title_coverage(question, "Volcanoes of Iceland", lambda t: idf(t) or 0.0) == 0.75
    assert title_coverage(question, "", lambda t: 1.0) == 0.0
    assert title_coverage(set(), "Volcanoes", lambda t: 1.0) == 0.0


# -- the real searcher -------------------------------------------------------------------------

CORPUS = {
    "pump.txt": (
        "---\ntitle: Maintenance notes\n---\n"
        "Replace the seal kit ZX-4471 every two years. The kit ships with new gaskets.\n"
    ),
    "volcano.txt": (
        "---\ntitle: Volcanoes\n---\n"
        "When magma rises through the crust and pressure builds, the mountain blows its top"
        " and ash rains down on the villages nearby.\n"
    ),
    "bees.txt": (
        "---\ntitle: Honey bees\n---\n"
        "Honey bees collect nectar from flowers and store it as honey in wax combs.\n\n"
        "A colony has one queen, thousands of workers and a few hundred drones.\n\n"
        "Workers dance to tell the others where the flowers are.\n"
    ),
    "bread.txt": (
        "---\ntitle: Sourdough\n---\nSourdough rises thanks to wild yeast and bacteria.\n"
    ),
    "duplicate-a.txt": "---\ntitle: Notice\n---\nThe library closes at noon on Fridays.\n",
    "duplicate-b.txt": "---\ntitle: Notice\n---\nThe library closes at noon on Fridays.\n",
}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Archive:
    root = tmp_path_factory.mktemp("search")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(_env_file=None, corpus_dir=corpus, data_dir=root / "data")  # type: ignore[call-arg]
    archive = Archive(settings, embedder=embedder)
    archive.ingest()
    return archive


def _source(archive: Archive, question: str) -> str:
    return Path(archive.search(question, 3)[0].chunk.source).name


def test_an_exact_rare_code_is_found_through_bm25(small: Archive) -> None:
    assert _source(small, "Which part number is the seal kit ZX-4471?") == "pump.txt"
    hit = small.search("ZX-4471", 3)[0]
    assert "bm25" in hit.retrievers and hit.lexical_score


def test_a_paraphrase_with_no_shared_words_is_found_through_the_dense_retriever(
    small: Archive,
) -> None:
    assert _source(small, "What happens during an eruption?") == "volcano.txt"


def test_stages_expose_each_retriever_and_the_fused_order(small: Archive) -> None:
    stages = small.search_stages("How do bees make honey?", 3)
    assert stages.dense and stages.lexical and stages.fused
    assert set(stages.lexical) <= set(stages.fused)
    assert set(stages.dense) <= set(stages.fused)
    assert [h.chunk.id for h in stages.final] == [
        i for i in stages.fused if i in {h.chunk.id for h in stages.final}
    ]
    assert Path(stages.final[0].chunk.source).name == "bees.txt"
    scores = [h.score for h in stages.final]
    assert scores == sorted(scores, reverse=True)
    dense_only = [h for h in stages.final if h.retrievers == frozenset({"dense"})]
    assert all(h.lexical_score is None and h.dense_similarity is not None for h in dense_only)


def test_repeated_text_is_shown_once(small: Archive) -> None:
    hits = small.search("When does the library close?", 5)
    texts = [" ".join(h.chunk.text.split()) for h in hits]
    assert texts.count("The library closes at noon on Fridays.") == 1


def test_plain_rrf_remains_available_for_comparison(small: Archive) -> None:
    previous = small.params
    try:
        small.params = SearchParams(fusion="rrf")
        hits = small.search("How do bees make honey?", 3)
        assert Path(hits[0].chunk.source).name == "bees.txt"
        assert hits[0].score == pytest.approx(2 / 61)  # first in both rankings
    finally:
        small.params = previous
