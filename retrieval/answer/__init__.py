"""Answers: the composer protocol, the extractive composer, the LLM composer with its prompt
and citation check."""

from retrieval.answer.extractive import Composer, ExtractiveComposer

__all__ = ["Composer", "ExtractiveComposer"]
