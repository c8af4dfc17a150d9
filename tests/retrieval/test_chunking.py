"""Structure-aware chunking: verbatim slices, headings, sentence splits, stable ids."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.ingest.chunking import chunk_document
from retrieval.ingest.loaders import document_id, load
from retrieval.types import Document

ROOT = Path(__file__).resolve().parents[2]


def make_document(text: str, title: str = "Title") -> Document:
    return Document(id=document_id("x"), source="x.txt", title=title, text=text, content_hash="h")


def test_demo_article_chunks_follow_its_headings() -> None:
    doc = load(ROOT / "corpus" / "us-warned-russia-crocus-city-hall.txt")
    chunks = chunk_document(doc, max_chars=1000)
    headings = [c.heading for c in chunks]
    assert headings[0] is None
    assert "Russia's reaction" in headings
    assert "Because the US shared the information" in headings
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.title == doc.title
        assert "Russia's reaction\n" not in chunk.text  # headings are context, not body


def test_long_paragraph_is_split_between_sentences() -> None:
    sentence = "The committee met again on Tuesday to discuss the budget. "
    doc = make_document(sentence * 40)
    chunks = chunk_document(doc, max_chars=300)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk.text) <= 300
        assert chunk.text.endswith("budget.")
        assert chunk.location == "paragraph 1"


def test_a_single_enormous_word_is_cut_but_never_exceeds_the_limit() -> None:
    doc = make_document("x" * 2500)
    chunks = chunk_document(doc, max_chars=1000)
    assert [len(c.text) for c in chunks] == [1000, 1000, 500]


def test_ids_are_deterministic_and_change_only_with_content() -> None:
    text = "First paragraph here.\n\nSecond paragraph here."
    first = [c.id for c in chunk_document(make_document(text), max_chars=40)]
    again = [c.id for c in chunk_document(make_document(text), max_chars=40)]
    edited = [c.id for c in chunk_document(make_document(text + " Changed."), max_chars=40)]
    assert first == again
    assert len(set(first)) == len(first)
    assert edited[0] == first[0] and edited[1] != first[1]


def test_indexed_text_carries_title_and_heading() -> None:
    doc = make_document("Intro text.\n\n## Results\n\nThe results were good.", title="Study")
    chunks = chunk_document(doc, max_chars=30)
    assert chunks[-1].heading == "Results"
    assert chunks[-1].indexed_text() == "Study — Results\nThe results were good."


words = st.text(alphabet="abcdefghij ", min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(words, min_size=1, max_size=8), min_size=1, max_size=8),
    st.integers(min_value=200, max_value=600),
)
def test_chunks_are_verbatim_bounded_and_never_split_words(
    paragraphs: list[list[str]], max_chars: int
) -> None:
    text = "\n\n".join(". ".join(p) for p in paragraphs)
    doc = make_document(text)
    for chunk in chunk_document(doc, max_chars=max_chars):
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert 0 < len(chunk.text) <= max_chars
        before = doc.text[chunk.start - 1] if chunk.start else " "
        after = doc.text[chunk.end] if chunk.end < len(doc.text) else " "
        assert not (before.isalnum() and chunk.text[0].isalnum())
        assert not (after.isalnum() and chunk.text[-1].isalnum())
