"""Answers written by an LLM, whose citations are checked in code, never trusted.

`LLMComposer` follows the `Composer` protocol. It sends the retrieved passages to a langchain
chat model (`LLM_PROVIDER=openai`: any OpenAI-compatible server; `ollama`: an Ollama server)
as numbered, delimited, untrusted data (`retrieval.answer.prompt`), then checks each sentence
of the reply with `retrieval.answer.citecheck`: sentences without a real, supporting citation
are dropped, the surviving citations are renumbered 1, 2, … in order of first use and quote
the passage's best-supporting sentence verbatim. If the model fails (timeout, HTTP error, no
usable reply) or too little of its answer survives, the extractive answer is given instead
and the log says why.

Cost is bounded: one streamed model call per question, passages capped at
`LLM_CONTEXT_TOKENS`, output at `LLM_MAX_TOKENS`; the archive refuses a question whose
evidence is weak before any call. Drafts hold only sentences that already passed the check,
so unchecked text is never shown.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Generator, Sequence
from typing import Any

from retrieval.answer.citecheck import (
    SUPPORT_FLOOR,
    CitationChecker,
    Passage,
    SentenceStream,
    Verdict,
    looks_like_instructions,
    make_passage,
)
from retrieval.answer.composer import AnswerStream
from retrieval.answer.evidence import Evidence, IdfFn
from retrieval.answer.extractive import quote_answer, refusal
from retrieval.answer.prompt import NO_ANSWER, build_prompt
from retrieval.errors import CitebotError
from retrieval.settings import RetrievalSettings
from retrieval.types import Answer, Citation, Hit

log = logging.getLogger(__name__)


class LLMFailure(CitebotError):
    """The language model did not give a usable reply (the extractive answer is used)."""


def build_chat_model(settings: RetrievalSettings) -> Any:
    """The langchain chat model the settings describe (openai-compatible or ollama)."""
    if settings.llm_provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=settings.llm_model or "gpt-4o-mini",
            base_url=settings.llm_base_url or None,
            # Local OpenAI-compatible servers accept any key; the client insists on one.
            api_key=settings.llm_api_key or "not-needed",  # type: ignore[arg-type]
            timeout=settings.llm_timeout,
            max_tokens=settings.llm_max_tokens,  # type: ignore[call-arg]
            max_retries=0,
            temperature=0,
        )
    if settings.llm_provider == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=settings.llm_model or "llama3.2",
            base_url=settings.llm_base_url or None,
            num_predict=settings.llm_max_tokens,
            temperature=0,
            client_kwargs={"timeout": settings.llm_timeout},
        )
    raise ValueError(f"no chat model for LLM_PROVIDER={settings.llm_provider!r}")


class _Assembler:
    """Collects checked sentences: renumbers citations in order of first use, gathers quotes."""

    def __init__(self, question: str, passages: Sequence[Passage], score: float) -> None:
        self.question = question
        self.score = score
        self._passages = {p.n: p for p in passages}
        self._numbers: dict[int, int] = {}  # given passage number -> number in the answer
        self._quotes: dict[int, list[str]] = {}
        self._parts: list[str] = []
        self.claims = 0
        self.dropped: list[Verdict] = []
        self.unknown: set[int] = set()
        self.repeats = 0  # sentences the model wrote again (small models loop): ignored
        self._seen: set[str] = set()

    @property
    def kept(self) -> int:
        return len(self._parts)

    @property
    def text(self) -> str:
        return " ".join(self._parts)

    def add(self, verdict: Verdict) -> bool:
        """Take one checked sentence; True if it joined the answer. A sentence the model
        already wrote is ignored: neither a second claim nor a second copy in the answer."""
        key = " ".join(verdict.sentence.lower().split())
        if verdict.claim and key in self._seen:
            self.repeats += 1
            return False
        self._seen.add(key)
        self.unknown.update(verdict.unknown)
        if verdict.claim:
            self.claims += 1
        if not verdict.kept:
            if verdict.claim:
                self.dropped.append(verdict)
            return False
        for n in verdict.cited:
            self._numbers.setdefault(n, len(self._numbers) + 1)
        for n, quote in verdict.quotes:
            quotes = self._quotes.setdefault(n, [])
            if quote not in quotes:
                quotes.append(quote)
        markers = "".join(f"[{self._numbers[n]}]" for n in verdict.cited)
        self._parts.append(f"{verdict.sentence} {markers}")
        return True

    def notes(self) -> tuple[str, ...]:
        notes = [f"llm: kept {self.kept} of {self.claims} sentences"]
        if self.unknown:
            notes.append(f"llm: removed citations of passages never given {sorted(self.unknown)}")
        if self.repeats:
            notes.append(f"llm: ignored {self.repeats} repeated sentences")
        notes += [f"llm: dropped {_clip(v.sentence)!r}: {v.reason}" for v in self.dropped]
        return tuple(notes)

    def answer(self) -> Answer:
        citations = []
        for n, number in sorted(self._numbers.items(), key=lambda item: item[1]):
            passage = self._passages[n]
            order = {s: i for i, s in enumerate(passage.sentences)}
            quotes = sorted(self._quotes.get(n, []), key=lambda q: order.get(q, 0))
            citations.append(_citation(number, passage, " … ".join(quotes)))
        return Answer(
            self.question,
            self.text,
            tuple(citations),
            self.score,
            composer="llm",
            notes=self.notes(),
        )


def _citation(n: int, passage: Passage, quote: str) -> Citation:
    # The passage as the model saw it: instruction-like sentences (phishing links, …) cut out.
    return Citation.from_chunk(n, passage.hit.chunk, quote, passage.text)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class LLMComposer:
    """Composes with a chat model, checks every citation, falls back to the extractive answer."""

    def __init__(
        self,
        model: Any,
        idf: IdfFn,
        *,
        timeout: float = 60.0,
        context_tokens: int = 3000,
        max_sentences: int = 5,
        floor: float = SUPPORT_FLOOR,
        min_kept_share: float = 0.5,
    ) -> None:
        self.model = model
        self.idf = idf
        self.timeout = timeout
        self.context_tokens = context_tokens
        self.max_sentences = max_sentences
        self.floor = floor
        self.min_kept_share = min_kept_share

    @classmethod
    def from_settings(cls, settings: RetrievalSettings, idf: IdfFn) -> LLMComposer:
        return cls(
            build_chat_model(settings),
            idf,
            timeout=settings.llm_timeout,
            context_tokens=settings.llm_context_tokens,
            max_sentences=max(settings.answer_max_sentences, 5),
        )

    def compose(self, question: str, hits: Sequence[Hit], evidence: Evidence) -> AnswerStream:
        """One streamed model call: drafts of checked sentences, then the final Answer."""
        return AnswerStream(self._run(question, hits, evidence))

    def _run(
        self, question: str, hits: Sequence[Hit], evidence: Evidence
    ) -> Generator[str, None, Answer]:
        prompt = build_prompt(question, hits, self.context_tokens, self.max_sentences)
        checker = CitationChecker(question, prompt.passages, self.idf, self.floor)
        assembler = _Assembler(question, prompt.passages, evidence.confidence)
        sentences = SentenceStream()
        deadline = time.monotonic() + self.timeout
        try:
            for piece in self.model.stream(prompt.messages()):
                for raw in sentences.feed(str(piece.text)):
                    if assembler.add(checker.check(raw)):
                        yield assembler.text
                if time.monotonic() > deadline:
                    raise LLMFailure(f"no complete reply within {self.timeout:g} s")
            for raw in sentences.finish():
                if assembler.add(checker.check(raw)):
                    yield assembler.text
        except Exception as exc:
            reason = f"{type(exc).__name__}: {_clip(str(exc), 200)}"
            log.warning("LLM call failed (%s); using the extractive answer", reason)
            return self._fall_back(question, hits, evidence, f"llm failed: {reason}")

        if sentences.text.strip().startswith(NO_ANSWER):
            log.info("the LLM found no answer in the passages; refusing")
            return dataclasses.replace(
                refusal(question, hits, evidence),
                composer="llm",
                notes=("llm: the passages do not answer this",),
            )
        if assembler.kept == 0 or assembler.kept < self.min_kept_share * assembler.claims:
            log.warning(
                "LLM answer failed the citation check (%d of %d sentences kept); "
                "using the extractive answer. %s",
                assembler.kept,
                assembler.claims,
                "; ".join(assembler.notes()[1:]),
            )
            return self._fall_back(
                question,
                hits,
                evidence,
                f"llm answer failed the citation check ({assembler.kept} of "
                f"{assembler.claims} sentences kept)",
            )
        if assembler.dropped or assembler.unknown:
            log.info("LLM answer checked: %s", "; ".join(assembler.notes()))
        return assembler.answer()

    def _fall_back(
        self, question: str, hits: Sequence[Hit], evidence: Evidence, note: str
    ) -> Answer:
        """The extractive answer, quoting the passages as the model saw them: sentences that
        read like instructions to an AI are left out here too."""
        kept = tuple(s for s in evidence.sentences if not looks_like_instructions(s.text))
        cleaned = [_without_instructions(h) for h in hits]
        if kept:
            answer = quote_answer(question, cleaned, dataclasses.replace(evidence, sentences=kept))
        else:
            answer = refusal(question, cleaned, evidence)
        return dataclasses.replace(answer, notes=(*answer.notes, note))


def _without_instructions(hit: Hit) -> Hit:
    passage = make_passage(0, hit)
    if not passage.removed:
        return hit
    chunk = dataclasses.replace(hit.chunk, text=passage.text)
    return dataclasses.replace(hit, chunk=chunk)
