"""The composer protocol, and the one stream type every answer arrives in.

A composer turns a question, its hits and the evidence already weighed for it into an
`AnswerStream`: drafts while it writes (none for the extractive composer), then the final
`Answer`. The CLI drains the stream; the bot edits a message with each draft.

    stream = archive.ask(question)
    for draft in stream:        # checked text so far, `[n]` markers final
        ...
    answer = stream.answer      # the final, checked Answer
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Protocol

from retrieval.answer.evidence import Evidence
from retrieval.types import Answer, Hit


class AnswerStream:
    """Drafts of the answer while it is written, then the final `Answer`.

    Iterate to get drafts (the whole checked text so far); `answer` is available once
    iteration ends (reading it earlier runs the rest silently).
    """

    def __init__(self, steps: Generator[str, None, Answer]) -> None:
        self._steps = steps
        self._answer: Answer | None = None

    @classmethod
    def of(cls, answer: Answer) -> AnswerStream:
        """A stream with no drafts: the answer is already final."""
        stream = cls(_nothing())
        stream._answer = answer
        return stream

    def __iter__(self) -> Iterator[str]:
        if self._answer is None:
            self._answer = yield from self._steps

    @property
    def answer(self) -> Answer:
        if self._answer is None:
            for _ in self:
                pass
        assert self._answer is not None
        return self._answer


def _nothing() -> Generator[str, None, Answer]:
    raise AssertionError("a finished stream has no steps")
    yield ""  # a generator, never reached


class Composer(Protocol):
    """Writes the answer to a question that the evidence says the hits answer."""

    def compose(self, question: str, hits: Sequence[Hit], evidence: Evidence) -> AnswerStream:
        """The answer, as a stream; its `[n]` markers all resolve to its citations."""
        ...
