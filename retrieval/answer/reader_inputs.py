"""How the reader sees a (question, sentence) pair: the same for training and for answering.

The second segment is the sentence behind its document's title and date ("Nikola Tesla — He
was born in 1856."), so that "he" has someone to refer to and a news question's year can be
met by the document's date. Inputs are cut at `MAX_TOKENS` (the longer
segment first), never rejected: an empty, very long or odd sentence still reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokenizers import Encoding, Tokenizer

MAX_TOKENS = 128
TITLE_SEPARATOR = " — "
MAX_ANSWER_TOKENS = 24  # the longest span the reader highlights


# The longest title the reader is shown, in words. It was trained with SQuAD's article names
# as titles (1 to 9 words, 98% at most 6); a news headline is longer and often states the
# answer of its article's every sentence ("US warned Russia of Crocus City Hall attack"),
# which would make every sentence of the article look like an answer.
MAX_TITLE_WORDS = 6


def reader_title(title: str, max_words: int = MAX_TITLE_WORDS) -> str:
    """The title as the reader sees it: itself if it has at most `max_words` words, else
    nothing (the sentence then stands behind its document's date alone)."""
    return title if len(title.split()) <= max_words else ""


def heading(title: str, day: object = None) -> str:
    """What stands before the sentence: its document's title and, for news, its date
    ("Kerber wins Wimbledon (2018-07-15)"), so that "in 2018" can be met by the date."""
    return f"{title} ({day})" if day else title


def passage(title: str, sentence: str) -> tuple[str, int]:
    """The second segment, and where the sentence starts in it."""
    prefix = f"{title.strip()[:200]}{TITLE_SEPARATOR}" if title.strip() else ""
    return prefix + sentence, len(prefix)


@lru_cache(maxsize=4)
def tokenizer(base_path: str) -> Tokenizer:
    """The base model's fast tokenizer: truncation at MAX_TOKENS, no padding."""
    tok = Tokenizer.from_file(str(Path(base_path) / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS, strategy="longest_first")
    return tok


@dataclass(frozen=True)
class Encoded:
    """One pair as token ids, with what maps tokens back to the sentence's characters."""

    ids: list[int]
    type_ids: list[int]
    # Per token: its character span in the sentence, or None for the question, the title and
    # the special tokens (only sentence tokens can be part of an answer).
    spans: list[tuple[int, int] | None]


def encode(base_path: str, question: str, pairs: list[tuple[str, str]]) -> list[Encoded]:
    """Encode (title, sentence) pairs against one question."""
    return encode_pairs(base_path, [(question, title, sentence) for title, sentence in pairs])


def encode_pairs(base_path: str, triples: list[tuple[str, str, str]]) -> list[Encoded]:
    """Encode (question, title, sentence) triples."""
    tok = tokenizer(base_path)
    texts = [(q or " ", passage(title, sentence)) for q, title, sentence in triples]
    encodings = tok.encode_batch([(q, p[0] or " ") for q, p in texts])
    return [_encoded(e, offset) for e, (_, (_, offset)) in zip(encodings, texts, strict=True)]


def _encoded(encoding: Encoding, offset: int) -> Encoded:
    spans: list[tuple[int, int] | None] = []
    for seq, (a, b) in zip(encoding.sequence_ids, encoding.offsets, strict=True):
        spans.append((a - offset, b - offset) if seq == 1 and a >= offset and b > a else None)
    return Encoded(list(encoding.ids), list(encoding.type_ids), spans)


def token_span(encoded: Encoded, start: int, end: int) -> tuple[int, int] | None:
    """The first and last token of the character span [start, end) of the sentence (None if
    truncation cut it off)."""
    first = last = None
    for i, span in enumerate(encoded.spans):
        if span is None:
            continue
        if first is None and span[1] > start:
            first = i
        if span[0] < end:
            last = i
    if first is None or last is None or last < first:
        return None
    a, b = encoded.spans[first], encoded.spans[last]
    if a is None or b is None or a[0] >= end or b[1] <= start:
        return None
    return first, last
