"""Answers: the reader, the evidence the passages hold, the composer protocol and its stream
type, the extractive composer, the LLM composer with its prompt and citation check, and
follow-ups."""

from retrieval.answer.composer import AnswerStream, Composer
from retrieval.answer.evidence import Evidence, Weighing, weigh
from retrieval.answer.extractive import REFUSAL_TEXT, ExtractiveComposer, refusal
from retrieval.answer.llm import LLMComposer
from retrieval.answer.reader import Reader, Reading

__all__ = [
    "REFUSAL_TEXT",
    "AnswerStream",
    "Composer",
    "Evidence",
    "ExtractiveComposer",
    "LLMComposer",
    "Reader",
    "Reading",
    "Weighing",
    "refusal",
    "weigh",
]
