"""Answers: the evidence the passages hold, the composer protocol and its stream type, the
extractive composer, the LLM composer with its prompt and citation check, and follow-ups."""

from retrieval.answer.composer import AnswerStream, Composer
from retrieval.answer.evidence import Evidence, Weighing, weigh
from retrieval.answer.extractive import REFUSAL_TEXT, ExtractiveComposer, refusal
from retrieval.answer.llm import LLMComposer

__all__ = [
    "REFUSAL_TEXT",
    "AnswerStream",
    "Composer",
    "Evidence",
    "ExtractiveComposer",
    "LLMComposer",
    "Weighing",
    "refusal",
    "weigh",
]
