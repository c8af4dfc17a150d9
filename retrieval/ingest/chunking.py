"""Split a document into passages along its structure: headings, paragraphs, then sentences.

A chunk is a verbatim slice of the document text (so quotes can be checked against it),
never cut inside a word, never across a heading, and its id depends only on the document,
its position and its content: re-chunking the same file gives the same ids.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass

from retrieval.text import markdown_heading, sentence_spans
from retrieval.types import (
    MAX_HEADING_CHARS,
    MAX_SOURCE_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    Chunk,
    Document,
)

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_END_PUNCTUATION = tuple('.!?:;,"”’)…')


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    paragraph: int  # 1-based number of the paragraph the block starts in


def chunk_document(document: Document, max_chars: int = 1000) -> list[Chunk]:
    """The document's chunks, in reading order."""
    text = document.text
    chunks: list[Chunk] = []
    heading: str | None = None
    section: list[_Block] = []
    paragraph_number = 0

    def flush() -> None:
        for group in _pack(section, max_chars):
            chunks.append(_make_chunk(document, group, heading, len(chunks)))
        section.clear()

    for start, end in _paragraph_spans(text):
        paragraph = text[start:end]
        found = _heading(paragraph)
        if found is not None:
            flush()
            heading = found
            continue
        paragraph_number += 1
        section.extend(_split_long(text, start, end, paragraph_number, max_chars))
    flush()
    return chunks


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    pos = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    stripped = []
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            stripped.append((start, end))
    return stripped


def _heading(paragraph: str) -> str | None:
    """The heading a one-line paragraph is (a markdown heading, or a short line without end
    punctuation), or None. A heading longer than MAX_HEADING_CHARS is text: a heading is
    copied into each passage of its section."""
    if "\n" in paragraph:
        return None
    heading = markdown_heading(paragraph)
    if heading is not None:
        return heading if len(heading) <= MAX_HEADING_CHARS else None
    if (
        len(paragraph) <= 80
        and not paragraph.endswith(_END_PUNCTUATION)
        and (paragraph[:1].isupper() or paragraph[:1].isdigit())
        and len(paragraph.split()) <= 12
    ):
        return paragraph
    return None


def _split_long(text: str, start: int, end: int, paragraph: int, max_chars: int) -> list[_Block]:
    """A paragraph as blocks of at most max_chars: whole sentences, or words if one is longer."""
    if end - start <= max_chars:
        return [_Block(start, end, paragraph)]
    blocks: list[_Block] = []
    for s_start, s_end in sentence_spans(text, start, end):
        if s_end - s_start <= max_chars:
            blocks.append(_Block(s_start, s_end, paragraph))
            continue
        pos = s_start
        while s_end - pos > max_chars:
            cut = text.rfind(" ", pos, pos + max_chars)
            if cut <= pos:  # one enormous "word": cut it rather than emit an oversized chunk
                cut = pos + max_chars
            blocks.append(_Block(pos, cut, paragraph))
            pos = cut
            while pos < s_end and text[pos].isspace():
                pos += 1
        if pos < s_end:
            blocks.append(_Block(pos, s_end, paragraph))
    return blocks


def _pack(blocks: list[_Block], max_chars: int) -> list[list[_Block]]:
    """Greedy packing of consecutive blocks into groups whose span is at most max_chars."""
    groups: list[list[_Block]] = []
    for block in blocks:
        if groups and block.end - groups[-1][0].start <= max_chars:
            groups[-1].append(block)
        else:
            groups.append([block])
    return groups


def _make_chunk(
    document: Document, group: list[_Block], heading: str | None, position: int
) -> Chunk:
    start, end = group[0].start, group[-1].end
    text = document.text[start:end]
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
    first, last = group[0].paragraph, group[-1].paragraph
    location = f"paragraph {first}" if first == last else f"paragraphs {first}–{last}"
    page = _page_at(document, start)
    if page is not None:
        location = f"page {page}, {location}"
    return Chunk(
        id=f"{document.id}-{position:04d}-{digest}",
        document_id=document.id,
        text=text,
        start=start,
        end=end,
        position=position,
        # Bounded: these fields are copied into every passage of the document.
        title=document.title[:MAX_TITLE_CHARS],
        source=document.source[:MAX_SOURCE_CHARS],
        heading=heading,
        date=document.date,
        url=document.url if document.url and len(document.url) <= MAX_URL_CHARS else None,
        location=location,
    )


def _page_at(document: Document, offset: int) -> int | None:
    if not document.pages:
        return None
    starts = [page_start for page_start, _ in document.pages]
    index = bisect.bisect_right(starts, offset) - 1
    return document.pages[max(index, 0)][1]
